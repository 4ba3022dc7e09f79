"""A hall booking's products in Lime: one preorder, updated with the booking, cancelled with it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import Resource
from bookings.services import BookingData, BookingLineData, booking_cancel, booking_save
from hub.models import Contact, ExternalRef, Product
from hub.services.connections import connection_pull
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db


def test_booking_products_become_one_lime_preorder_that_follows_the_booking(lime, lime_emulator):
    connection_pull(lime, full=True)
    contact = Contact.objects.get(pk=ExternalRef.objects.filter(connection=lime, kind="contact")
                                  .order_by("pk").first().local_id)
    party = Product.objects.get(pk=ExternalRef.objects.get(kind="product", external_id="301").local_id)
    towel = Product.objects.get(pk=ExternalRef.objects.get(kind="product", external_id="402").local_id)
    hall = Resource.objects.create(kind="hall", name="Малый зал")
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=10)
    data = BookingData(contact=contact, starts_at=start, ends_at=start + dt.timedelta(hours=2), resources=[hall],
                       lines=[BookingLineData(party)])
    booking = booking_save(data)
    drain_outbox()
    [sent] = lime_emulator.app.state()["preorders"]
    assert sent["lines"] == [{"goodTypeId": 301, "count": 1.0, "price": 2500000}]
    assert sent["comment"] == f"Бронь №{booking.pk}" and sent["status"] == "new"
    data.lines = [BookingLineData(party), BookingLineData(towel, Decimal(12), Decimal(250))]
    data.status = "confirmed"
    booking_save(data, booking=booking)
    drain_outbox()
    [sent] = lime_emulator.app.state()["preorders"]  # the same preorder, changed
    assert [(ln["goodTypeId"], ln["count"]) for ln in sent["lines"]] == [(301, 1.0), (402, 12.0)]
    booking_cancel(booking)
    drain_outbox()
    [sent] = lime_emulator.app.state()["preorders"]
    assert sent["status"] == "cancelled"
