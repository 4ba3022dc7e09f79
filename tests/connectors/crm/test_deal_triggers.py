"""Deals that ask the hub for something, and bookings as deals, both emulators over HTTP: a
deal moved to "booking requested" books a hall and gets the answer as a note (a clash
answers with free times); a deal moved to "grant bonuses" grants them once, within the
CRM limit; hub bookings become deals with product rows; Lime preorders become deals."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import Booking, Resource
from bookings.services import BookingData, BookingLineData, booking_save
from connectors.crm.port import CrmDeal
from hub.models import ExternalRef, Inbox
from hub.services.catalog import product_upsert
from hub.services.connections import connection_pull
from hub.services.contacts import ContactData, contact_upsert
from tests.helpers import drain_outbox

DAY = dt.date(2026, 12, 5)


def _stage(crm, which):
    """The bookings pipeline's stages in each emulator: 0 = new, 1 = booking requested."""
    if crm.system == "amocrm":
        return "3004", ("30040", "30041")[which]
    return "3", ("C3:NEW", "C3:PREPARATION")[which]


def _configure(crm):
    fields = {role: crm.add_deal_field(label, role) for role, label in
              (("hall", "Зал"), ("date", "Дата брони"), ("time", "Время"), ("hours", "Часов"))}
    pipeline, stage = _stage(crm, 1)
    crm.connection.refresh_from_db()
    crm.connection.settings.update(booking_request={"pipeline_id": pipeline, "stage_id": stage},
                                   booking_fields=fields)
    crm.connection.save()
    return fields


def _deal_for(crm, contact, title):
    pipeline, stage = _stage(crm, 0)
    written = crm.port.upsert_deals([("k", CrmDeal(title=title, pipeline_id=pipeline, stage_id=stage,
                                                   contact_external_id=crm.their_id(contact)), "")])
    crm.app.wait_deliveries()
    return written.ids["k"]


@pytest.mark.django_db(transaction=True)
def test_a_deal_moved_to_booking_requested_books_the_hall_and_answers_in_the_deal(crm, live_server):
    hall = Resource.objects.create(kind="hall", name="Малый зал", capacity=20, opens_at=dt.time(10),
                                   closes_at=dt.time(22))
    Resource.objects.create(kind="hall", name="Большой зал", capacity=50)
    fields = _configure(crm)
    crm.hook_to(live_server)
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79160000001"]))
    oleg, _ = contact_upsert(ContactData(first_name="Олег", phones=["+79160000002"]))
    drain_outbox()
    first = _deal_for(crm, anna, "День рождения Маши")
    second = _deal_for(crm, oleg, "Выпускной")
    third = _deal_for(crm, oleg, "Праздник")

    crm.move_deal(first, *_stage(crm, 1), {fields["hall"]: "малый зал", fields["date"]: "05.12.2026",
                                           fields["time"]: "15:00", fields["hours"]: "2,5"})
    booking = Booking.objects.get()
    assert booking.contact == anna and booking.status == "tentative"
    assert list(booking.resources.all()) == [hall]
    assert timezone.localtime(booking.starts_at) == timezone.make_aware(dt.datetime(2026, 12, 5, 15))
    assert booking.ends_at - booking.starts_at == dt.timedelta(hours=2, minutes=30)
    assert ExternalRef.objects.get(connection=crm.connection, kind="booking").external_id == first

    crm.move_deal(second, *_stage(crm, 1), {fields["hall"]: "Малый зал", fields["date"]: "2026-12-05",
                                            fields["time"]: "16:00"})
    crm.move_deal(third, *_stage(crm, 1), {fields["hall"]: "Зал X", fields["date"]: "2026-12-05",
                                           fields["time"]: "16:00"})
    drain_outbox()
    notes = crm.notes()
    assert any(n.startswith(f"Хаб: бронь №{booking.pk} создана (предварительная): «Малый зал», 05.12.2026 15:00")
               for n in notes)
    clash = next(n for n in notes if "«Малый зал» занят" in n)
    assert f"бронь №{booking.pk}" in clash and "17:30" in clash and "«Большой зал»" in clash
    assert any("зал «Зал X» не найден" in n for n in notes)
    assert Booking.objects.count() == 1
    # The first booking's deal is the manager's: the hub does not create a second deal for it.
    assert not ExternalRef.objects.filter(kind="booking").exclude(external_id=first).exists()
    assert Inbox.objects.filter(status="failed").count() == 0


@pytest.mark.django_db
def test_a_hub_booking_becomes_a_deal_with_product_rows_and_follows_changes(crm):
    pipeline, stage = _stage(crm, 0)
    crm.connection.settings["routes"]["booking"] = {"pipeline_id": pipeline, "stage_id": stage}
    crm.connection.save()
    hall = Resource.objects.create(kind="hall", name="Малый зал")
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79160000003"]))
    pizza = product_upsert(name="Пицца", base_price="900")
    start = timezone.make_aware(dt.datetime.combine(DAY, dt.time(15)))
    booking = booking_save(BookingData(contact=anna, starts_at=start, ends_at=start + dt.timedelta(hours=2),
                                       resources=[hall], lines=[BookingLineData(pizza, Decimal(2))]))
    drain_outbox()
    deal_id = ExternalRef.objects.get(connection=crm.connection, kind="booking", local_id=booking.pk).external_id
    deal = crm.port.get_deal(deal_id)
    assert deal["title"] == f"Бронь №{booking.pk}: Малый зал, 05.12.2026 15:00–17:00"
    assert Decimal(deal["amount"]) == 1800 and (deal["pipeline_id"], deal["stage_id"]) == (pipeline, stage)
    assert deal["contact_id"] == crm.their_id(anna)
    booking_save(BookingData(contact=anna, starts_at=start, ends_at=start + dt.timedelta(hours=3),
                             resources=[hall], lines=[BookingLineData(pizza, Decimal(3))]), booking=booking)
    drain_outbox()
    deal = crm.port.get_deal(deal_id)
    assert deal["title"].endswith("15:00–18:00") and Decimal(deal["amount"]) == 2700
    assert ExternalRef.objects.filter(connection=crm.connection, kind="booking").count() == 1


@pytest.mark.django_db
def test_a_preorder_made_in_lime_becomes_a_deal_in_the_preorder_pipeline(crm, lime, lime_emulator):
    connection_pull(lime, full=True)
    drain_outbox()
    client = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult" and c["phoneNumber"])
    app = lime_emulator.app
    with app.lock:  # a cashier takes a preorder in Lime itself
        pre_id = app._next("preorder", 40001)
        app.preorders[pre_id] = app._preorder(pre_id, {
            "clientId": client["id"], "date": "2026-12-06T12:00:00", "comment": "Торт к празднику",
            "lines": [{"goodTypeId": app.good_types[0]["id"], "count": 1, "price": 250000}]})
    connection_pull(lime)
    drain_outbox()
    ref = ExternalRef.objects.get(connection=crm.connection, kind="preorder")
    deal = crm.port.get_deal(ref.external_id)
    route = crm.connection.settings["routes"]["preorder"]
    assert (deal["pipeline_id"], deal["stage_id"]) == (str(route["pipeline_id"]), str(route["stage_id"]))
    assert deal["title"].startswith("Предзаказ №")


@pytest.mark.django_db(transaction=True)
def test_a_deal_moved_to_grant_bonuses_grants_once_within_the_crm_limit(crm, live_server):
    from loyalty.models import Account, Entry

    points, reason = crm.add_deal_field("Баллы", "points"), crm.add_deal_field("Причина", "reason")
    pipeline, stage = _stage(crm, 1)
    crm.connection.refresh_from_db()
    crm.connection.settings.update(bonus_request={"pipeline_id": pipeline, "stage_id": stage},
                                   bonus_fields={"points": points, "reason": reason}, bonus_max_grant=500)
    crm.connection.save()
    crm.hook_to(live_server)
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79160000004"]))
    drain_outbox()
    deal = _deal_for(crm, anna, "Компенсация")
    big = _deal_for(crm, anna, "Слишком щедро")
    crm.move_deal(deal, pipeline, stage, {points: "300", reason: "Компенсация за сломанный аттракцион"})
    # The deal reaching the stage again (moved away and back): not a second grant.
    from hub.services.deals import CrmDealView
    from loyalty.services.grants import bonus_from_crm_deal

    assert bonus_from_crm_deal(crm.connection, CrmDealView.from_neutral(crm.port.get_deal(deal))) is None
    crm.move_deal(big, pipeline, stage, {points: "5000"})
    drain_outbox()
    [entry] = Entry.objects.all()
    assert (entry.points, entry.source, entry.reason) == (300, "crm", "Компенсация за сломанный аттракцион")
    assert Account.objects.get(contact=anna).balance == 300
    notes = crm.notes()
    assert "Хаб: начислено 300.00 баллов. Баланс: 300.00." in notes
    assert any("уже проведены" in n for n in notes)
    assert any("больше лимита для CRM (500.00 баллов" in n for n in notes)


@pytest.mark.django_db(transaction=True)
def test_with_an_external_program_a_crm_grant_goes_to_the_program_and_its_answer_to_the_deal(crm, live_server):
    from loyalty.models import Account
    from tests.bonus_programs import bonus_side

    points = crm.add_deal_field("Баллы", "points")
    pipeline, stage = _stage(crm, 1)
    crm.connection.refresh_from_db()
    crm.connection.settings.update(bonus_request={"pipeline_id": pipeline, "stage_id": stage},
                                   bonus_fields={"points": points}, bonus_max_grant=500)
    crm.connection.save()
    crm.hook_to(live_server)
    with bonus_side("samosale") as samosale:
        anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79160000005"]))
        drain_outbox()
        crm.move_deal(_deal_for(crm, anna, "Подарок"), pipeline, stage, {points: "200"})
        drain_outbox()
        assert samosale.balance("+79160000005") == 200  # registered in the program and granted there
        assert Account.objects.get(contact=anna).balance == 200
        assert any("Хаб: начислено 200.00 баллов в программе «SamoSale». Баланс: 200.00." in n for n in crm.notes())
