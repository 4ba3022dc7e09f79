"""Bookings: no double booking (also under 20 parallel attempts), buffers, hours, time
zones, clear refusals, and the products that follow the booking into a preorder."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Booking, Preorder, Reservation, Resource
from bookings.services import (
    BookingConflict,
    BookingData,
    BookingLineData,
    booking_cancel,
    booking_check,
    booking_save,
)
from hub.models import Contact
from hub.services.catalog import product_upsert
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 5)


def at(hour, minute=0, day=DAY):
    """Local (venue) time."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def hall():
    return Resource.objects.create(kind="hall", name="Малый зал", capacity=12, buffer_minutes=30,
                                   opens_at=dt.time(10), closes_at=dt.time(22))


@pytest.fixture
def big_hall():
    return Resource.objects.create(kind="hall", name="Большой зал", capacity=40)


@pytest.fixture
def host():
    return Resource.objects.create(kind="staff", name="Аниматор Лена")


@pytest.fixture
def client_():
    return Contact.objects.create(first_name="Анна", phone="+79161234567")


def book(contact, start, end, *resources, **extra):
    return booking_save(BookingData(contact=contact, starts_at=start, ends_at=end, resources=list(resources),
                                    **extra))


def test_overlap_is_refused_naming_the_booking_and_offering_free_times_and_halls(client_, hall, big_hall):
    first = book(client_, at(14), at(16), hall)
    with pytest.raises(BookingConflict) as caught:
        book(client_, at(15), at(17), hall)
    conflict = caught.value
    assert [c.booking_id for c in conflict.clashes] == [first.pk]
    assert f"бронь №{first.pk}" in conflict.message and "«Малый зал» занят" in conflict.message
    assert at(10) in conflict.free_starts and at(16, 30) in conflict.free_starts  # after the 30-min buffer
    assert at(16) not in conflict.free_starts and at(13) not in conflict.free_starts  # would run into 14:00
    assert conflict.free_halls == [big_hall] and "«Большой зал»" in conflict.message
    assert Booking.objects.count() == 1


def test_back_to_back_is_allowed_and_the_buffer_is_respected(client_, hall, host):
    book(client_, at(10), at(12), host)
    book(client_, at(12), at(14), host)  # staff without a buffer: back to back
    book(client_, at(10), at(12), hall)
    with pytest.raises(BookingConflict):
        book(client_, at(12, 15), at(13), hall)  # inside the 30-min cleaning
    book(client_, at(12, 30), at(13), hall)
    before = book(client_, at(15), at(16, 30), hall)
    with pytest.raises(BookingConflict):
        book(client_, at(16, 45), at(18), hall)
    assert Reservation.objects.get(booking=before).blocked_until == at(17)


def test_a_cancelled_booking_frees_the_slot(client_, hall):
    first = book(client_, at(14), at(16), hall)
    booking_cancel(first)
    assert book(client_, at(14), at(16), hall).pk != first.pk


def test_a_staff_member_cannot_be_in_two_halls_at_once(client_, hall, big_hall, host):
    book(client_, at(14), at(16), hall, host)
    with pytest.raises(BookingConflict) as caught:
        book(client_, at(15), at(17), big_hall, host)
    assert [c.resource for c in caught.value.clashes] == [host]


def test_time_zones_late_evening_and_past_midnight(client_, settings):
    night = Resource.objects.create(kind="hall", name="Ночной зал", opens_at=dt.time(18), closes_at=dt.time(2))
    late = book(client_, at(23), at(23, 59), night)
    assert late.starts_at == dt.datetime(2026, 12, 5, 20, 0, tzinfo=dt.UTC)  # 23:00 Moscow is 20:00 UTC
    spanning = book(client_, at(0, 0, DAY + dt.timedelta(days=1)), at(1, 30, DAY + dt.timedelta(days=1)), night)
    assert spanning.pk
    with pytest.raises(BookingConflict):
        book(client_, at(23, 30), at(1, 0, DAY + dt.timedelta(days=1)), night)  # over midnight, into both
    with pytest.raises(ValidationError, match="работает с 18:00 до 02:00"):
        book(client_, at(1, 0, DAY + dt.timedelta(days=1)), at(3, 0, DAY + dt.timedelta(days=1)), night)


def test_bad_input_gets_clear_errors(client_, hall):
    with pytest.raises(ValidationError, match="позже начала"):
        book(client_, at(16), at(14), hall)
    with pytest.raises(ValidationError, match="Нет такого зала"):
        book(client_, at(14), at(16), 987654)
    with pytest.raises(ValidationError, match="помещается до 12 гостей"):
        book(client_, at(14), at(16), hall, guests=15)
    with pytest.raises(ValidationError, match="Выберите"):
        book(client_, at(14), at(16))
    hall.active = False
    hall.save()
    with pytest.raises(ValidationError, match="Не принимает брони"):
        book(client_, at(14), at(16), hall)
    assert Booking.objects.count() == 0


def test_check_refuses_what_save_would_refuse_without_saving(client_, hall):
    book(client_, at(14), at(16), hall)
    with pytest.raises(BookingConflict):
        booking_check(BookingData(contact=client_, starts_at=at(15), ends_at=at(17), resources=[hall]))
    booking_check(BookingData(contact=client_, starts_at=at(18), ends_at=at(19), resources=[hall]))
    assert Booking.objects.count() == 1


def test_moving_a_booking_does_not_clash_with_itself(client_, hall):
    booking = book(client_, at(14), at(16), hall)
    moved = booking_save(BookingData(contact=client_, starts_at=at(15), ends_at=at(17), resources=[hall]),
                         booking=booking)
    assert moved.pk == booking.pk and Reservation.objects.filter(active=True).count() == 1


def test_products_follow_the_booking_into_one_preorder(client_, hall):
    pizza = product_upsert(name="Пицца", base_price="900")
    cake = product_upsert(name="Торт", base_price="2500")
    booking = book(client_, at(14), at(16), hall, lines=[BookingLineData(pizza, Decimal(2))])
    preorder = booking.preorder
    assert preorder.scheduled_for == at(14) and preorder.total == Decimal("1800.00")
    booking = booking_save(BookingData(contact=client_, starts_at=at(14), ends_at=at(16), resources=[hall],
                                       lines=[BookingLineData(pizza, Decimal(3)), BookingLineData(cake)],
                                       status="confirmed"), booking=booking)
    preorder.refresh_from_db()
    assert booking.preorder_id == preorder.pk  # the same preorder, updated
    assert preorder.total == Decimal("5200.00") and preorder.status == Preorder.Status.CONFIRMED
    booking_cancel(booking)
    preorder.refresh_from_db()
    assert preorder.status == Preorder.Status.CANCELLED


def _race(resource_kind, workers=20):
    contact = Contact.objects.create(first_name="Гонка")
    resource = Resource.objects.create(kind=resource_kind, name=f"Спорный {resource_kind}")
    outcomes = []

    def attempt(n):
        try:
            book(contact, at(12, n), at(14, n), resource)  # all overlapping, each a little different
            outcomes.append("booked")
        except BookingConflict:
            outcomes.append("conflict")

    errors = run_at_once(workers, attempt)
    return outcomes, errors, resource


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["hall", "staff"])
def test_twenty_parallel_attempts_exactly_one_wins(kind):
    outcomes, errors, resource = _race(kind)
    assert errors == []
    assert outcomes.count("booked") == 1 and outcomes.count("conflict") == 19
    assert Reservation.objects.filter(resource=resource, active=True).count() == 1


def test_the_database_itself_refuses_an_overlap_written_past_the_service(client_, hall):
    """PostgreSQL's exclusion constraint, SQLite's triggers: the second line."""
    booking = book(client_, at(14), at(16), hall)
    other = Booking.objects.create(contact=client_, starts_at=at(15), ends_at=at(17))
    with pytest.raises(IntegrityError, match="reservation_no_overlap"), transaction.atomic():
        Reservation.objects.create(booking=other, resource=hall, starts_at=at(15), blocked_until=at(17))
    Reservation.objects.create(booking=other, resource=hall, starts_at=at(15), blocked_until=at(17), active=False)
    assert booking.reservations.count() == 1
