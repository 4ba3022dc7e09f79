"""A deal asking for a booking again moves that booking's time and hall and keeps the rest."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import Resource
from bookings.services import BookingData, BookingLineData, booking_save
from bookings.services.crm_requests import booking_from_crm_deal
from hub.models import Contact, ExternalRef, Outbox
from hub.services.catalog import product_upsert
from hub.services.connections import connection_upsert
from hub.services.deals import CrmDealView

pytestmark = pytest.mark.django_db


def test_asked_again_only_time_and_hall_move_products_and_status_stay():
    crm, _ = connection_upsert(name="CRM", system="amocrm", base_url="http://127.0.0.1:9", settings={
        "booking_request": {"pipeline_id": "1", "stage_id": "2"},
        "booking_fields": {"hall": "10", "date": "11", "time": "12", "hours": "13"}})
    small = Resource.objects.create(kind="hall", name="Малый зал")
    Resource.objects.create(kind="hall", name="Большой зал")
    anna = Contact.objects.create(first_name="Анна")
    ExternalRef.objects.create(connection=crm, kind="contact", local_id=anna.pk, external_id="700")
    start = timezone.make_aware(dt.datetime(2026, 12, 5, 15))
    booking = booking_save(BookingData(contact=anna, starts_at=start, ends_at=start + dt.timedelta(hours=2),
                                       resources=[small], status="confirmed", guests=9,
                                       lines=[BookingLineData(product_upsert(name="Торт", base_price="2500"))]))
    ExternalRef.objects.create(connection=crm, kind="booking", local_id=booking.pk, external_id="55")
    deal = CrmDealView(id="55", pipeline_id="1", stage_id="2", contact_id="700",
                       fields={"10": "Большой зал", "11": "06.12.2026", "12": "12:00", "13": "nan"})
    assert booking_from_crm_deal(crm, deal) is None  # "nan" hours: answered, not crashed
    assert "длительность брони не число" in Outbox.objects.filter(action="deal.note").last().payload["text"]
    deal.fields["13"] = "3"
    moved = booking_from_crm_deal(crm, deal)
    assert moved.pk == booking.pk and [r.name for r in moved.resources.all()] == ["Большой зал"]
    assert timezone.localtime(moved.starts_at).hour == 12 and moved.status == "confirmed" and moved.guests == 9
    assert moved.total == Decimal(2500) and moved.preorder.status == "confirmed"
    assert "перенесена" in Outbox.objects.filter(action="deal.note").last().payload["text"]
