"""The bookings admin: the calendar is a picture of the day, the form refuses a clash with
the reason, books a new client by phone without duplicating them, and carries products."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, Resource
from bookings.services import BookingData, booking_save
from hub.models import Contact
from hub.services.catalog import product_upsert

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 5)


def at(hour):
    return timezone.make_aware(dt.datetime.combine(DAY, dt.time(hour)))


@pytest.fixture
def hall():
    return Resource.objects.create(kind="hall", name="Малый зал", capacity=12, buffer_minutes=60,
                                   opens_at=dt.time(10), closes_at=dt.time(20))


def _form(hall, **extra):
    data = {"starts_at_0": "05.12.2026", "starts_at_1": "14:00", "ends_at_0": "05.12.2026", "ends_at_1": "16:00",
            "halls_and_staff": [hall.pk], "guests": "8", "status": "tentative", "comment": "",
            "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000"}
    data.update(extra)
    return data


def test_the_calendar_draws_bookings_by_time_with_the_buffer(admin_client, hall):
    anna = Contact.objects.create(first_name="Анна", last_name="Ким")
    booking = booking_save(BookingData(contact=anna, starts_at=at(14), ends_at=at(16), resources=[hall]))
    page = admin_client.get(reverse("admin:bookings_calendar"), {"date": "2026-12-05"}).content.decode()
    # 10:00–20:00 shown: 14:00 is 40% in, two hours are 20% wide, the hour of cleaning another 10%
    assert f"left: 40.00%; width: 20.00%\" title=\"№{booking.pk} 14:00–16:00 Анна Ким\"" in page
    assert "left: 60.00%; width: 10.00%" in page and "Малый зал" in page
    week = admin_client.get(reverse("admin:bookings_calendar"), {"date": "2026-12-05", "span": "week"})
    assert "Сб 05.12" in week.content.decode() and "30.11.2026 — 06.12.2026" in week.content.decode()


def test_the_form_refuses_a_clash_with_the_reason_and_offers_free_times(admin_client, hall):
    anna = Contact.objects.create(first_name="Анна")
    first = booking_save(BookingData(contact=anna, starts_at=at(13), ends_at=at(15), resources=[hall]))
    response = admin_client.post(reverse("admin:bookings_booking_add"), _form(hall, contact=anna.pk))
    page = response.content.decode()
    assert response.status_code == 200 and f"бронь №{first.pk}" in page and "Свободное время" in page
    assert Booking.objects.count() == 1


def test_a_new_client_is_booked_by_phone_and_found_again_not_duplicated(admin_client, hall):
    known = Contact.objects.create(first_name="Олег", phone="+79161112233")
    known.identities.create(kind="phone", value="+79161112233")
    pizza = product_upsert(name="Пицца", base_price="900")
    response = admin_client.post(reverse("admin:bookings_booking_add"), _form(
        hall, new_client_name="Олег", new_client_phone="8 916 111-22-33", **{
            "lines-TOTAL_FORMS": "1", "lines-0-product": pizza.pk, "lines-0-quantity": "2", "lines-0-price": "900"}))
    assert response.status_code == 302, response.content.decode()[:3000]
    booking = Booking.objects.get()
    assert booking.contact == known and Contact.objects.count() == 1
    assert booking.total == 1800 and booking.preorder.total == 1800


def test_bad_times_are_a_form_error_not_a_crash(admin_client, hall):
    anna = Contact.objects.create(first_name="Анна")
    response = admin_client.post(reverse("admin:bookings_booking_add"),
                                 _form(hall, contact=anna.pk, ends_at_1="12:00"))
    assert response.status_code == 200 and "позже начала" in response.content.decode()


def test_editing_products_in_the_form_changes_them_not_duplicates(admin_client, hall):
    anna = Contact.objects.create(first_name="Анна")
    pizza = product_upsert(name="Пицца", base_price="900")
    url = reverse("admin:bookings_booking_add")
    admin_client.post(url, _form(hall, contact=anna.pk, **{
        "lines-TOTAL_FORMS": "1", "lines-0-product": pizza.pk, "lines-0-quantity": "2", "lines-0-price": ""}))
    booking = Booking.objects.get()
    line = booking.lines.get()
    assert line.price == 900 and booking.total == 1800  # an empty price is the product's price
    response = admin_client.post(reverse("admin:bookings_booking_change", args=[booking.pk]), _form(hall, **{
        "contact": anna.pk, "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "1", "lines-0-id": line.pk,
        "lines-0-booking": booking.pk, "lines-0-product": pizza.pk, "lines-0-quantity": "5",
        "lines-0-price": "900"}))
    assert response.status_code == 302, response.content.decode()[:2000]
    booking.refresh_from_db()
    assert list(booking.lines.values_list("quantity", flat=True)) == [5]
    assert booking.total == 4500 and booking.preorder.total == 4500
