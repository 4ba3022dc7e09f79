"""The events domain without the emulators: what an announcement may carry, how CRM deal
changes become site pushes (stage by stage, only on change, problems told once), and how
orders are recorded (twice is once, a refund is final even when it arrives first)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from events.models import EventDate, EventTemplate, TicketSale
from events.services.content import ImageRejected, html_sanitise, image_check, image_fetch
from events.services.publishing import event_synced, event_template_publish
from events.services.sales import SaleData, TicketLine, ticket_sale_record
from events.services.setup import event_setup_save
from hub.models import Connection, Contact, Outbox, Purchase
from hub.services.deals import CrmDealView, crm_deal_seen
from hub.services.external_refs import external_ref_link, fingerprint
from hub.services.normalize import datetime_parse
from loyalty.selectors import spendable_points
from loyalty.services.ledger import program_default

MSK = ZoneInfo("Europe/Moscow")
pytestmark = pytest.mark.django_db


def _picture(kind: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(("dirty", "clean"), [
    ('<p onclick="x()">Привет</p>', "<p>Привет</p>"),
    ("<script>alert(1)</script><b>жирный</b>", "<b>жирный</b>"),
    ('<a href="javascript:alert(1)">ссылка</a>', '<a rel="noopener noreferrer">ссылка</a>'),
    ('<a href="https://x.example/">x</a>', '<a href="https://x.example/" rel="noopener noreferrer">x</a>'),
    ('<p style="color:red">текст</p><style>p{}</style>', "<p>текст</p>"),
    ('<img src="x" onerror="alert(1)"><iframe src="https://evil"></iframe>', ""),
    ("<ul><li>раз</li><li>два</li></ul>", "<ul><li>раз</li><li>два</li></ul>"),
    ("", ""),
])
def test_announcement_html_keeps_formatting_and_loses_everything_active(dirty, clean):
    assert html_sanitise(dirty) == clean


@pytest.mark.parametrize(("kind", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                                     ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_pictures_are_known_by_their_content(kind, content_type):
    picture = image_check(_picture(kind), 1_000_000, name="/files/poster.bin")
    assert picture.content_type == content_type and picture.name.startswith("poster.")


@pytest.mark.parametrize(("data", "limit", "reason"), [
    (b"%PDF-1.7 a document", 1_000_000, "не является картинкой"),
    (_picture("PNG")[:40], 1_000_000, "не является картинкой"),  # cut short
    (_picture("BMP"), 1_000_000, "BMP не принимается"),
    (_picture("PNG", (400, 400)), 200, "больше"),
])
def test_what_is_not_a_picture_for_the_site_is_refused_with_the_reason(data, limit, reason):
    with pytest.raises(ImageRejected, match=reason):
        image_check(data, limit)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/p.png", "http://169.254.169.254/latest/meta-data",
                                 "http://localhost/p.png", "http://[::1]/p.png", "file:///etc/passwd",
                                 "http://127.0.0.1:9\\@example.com/p.png", "http://user@example.com/p.png"])
def test_pictures_are_not_fetched_from_the_hubs_own_network(url):
    with pytest.raises(ImageRejected, match=r"внутреннюю сеть|не ссылка|именем пользователя"):
        image_fetch(url, 1_000_000)


@pytest.mark.parametrize(("value", "time_text", "expected"), [
    ("05.12.2026", "18:30", dt.datetime(2026, 12, 5, 18, 30, tzinfo=MSK)),
    ("2026-12-05", "9.05", dt.datetime(2026, 12, 5, 9, 5, tzinfo=MSK)),
    ("05.12.2026 19:00", "", dt.datetime(2026, 12, 5, 19, 0, tzinfo=MSK)),
    ("2026-12-05T18:30:00+03:00", "", dt.datetime(2026, 12, 5, 18, 30, tzinfo=MSK)),
    ("2026-12-05T15:30:00Z", "", dt.datetime(2026, 12, 5, 18, 30, tzinfo=MSK)),
    (str(int(dt.datetime(2026, 12, 5, 15, 30, tzinfo=dt.UTC).timestamp())), "", dt.datetime(2026, 12, 5, 18, 30,
                                                                                           tzinfo=MSK)),
    ("", "18:30", None),
])
def test_crm_dates_and_times_in_every_shape(value, time_text, expected):
    assert datetime_parse(value, MSK, time_text) == expected


def test_an_amocrm_date_field_takes_the_time_field():
    midnight = str(int(dt.datetime(2026, 12, 5, tzinfo=MSK).timestamp()))  # amoCRM "date": local midnight
    assert datetime_parse(midnight, MSK, "18:30") == dt.datetime(2026, 12, 5, 18, 30, tzinfo=MSK)


@pytest.mark.parametrize(("value", "time_text"), [("завтра", ""), ("05.12.2026", "25:00"), ("2026-13-01", ""),
                                                  ("99999999999999999999", "")])
def test_a_date_that_is_not_one_is_an_error(value, time_text):
    with pytest.raises(ValidationError):
        datetime_parse(value, MSK, time_text)


# ------------------------------------------------------------------------------------ deals → pushes
CATALOG = {"pipelines": [
    {"id": "10", "name": "Идеи", "stages": [{"id": s, "name": s} for s in ("11", "12", "13")]},
    {"id": "20", "name": "События", "stages": [{"id": s, "name": s} for s in ("21", "22", "23")]}],
    "users": [{"id": "17", "name": "Мария Смирнова"}]}


@pytest.fixture
def setup():
    crm = Connection.objects.create(system="amocrm", name="CRM", settings={"routes": {}, "crm_catalog": CATALOG})
    site = Connection.objects.create(system="site", name="Сайт", credentials={"secret": "s"})
    return event_setup_save(
        crm=crm, site=site, template_stage="10|12", events_pipeline_id="20",
        template_fields={"description": "501", "image": "502", "site_id": "503", "sync_state": "504"},
        event_fields={"idea_deal": "601", "template_id": "602", "starts_at": "603", "time": "604", "speaker": "605",
                      "host": "606", "sync_state": "607"},
        ticket_fields={"event_deal": "701"}, stage_pushes={"22": ["starts_at", "speaker"], "23": ["host"]})


def _deal(deal_id, pipeline, stage, title="Крыши", **fields):
    return CrmDealView(id=deal_id, pipeline_id=pipeline, stage_id=stage, title=title, fields=fields)


def _rows(action):
    return list(Outbox.objects.filter(action=action).order_by("pk"))


def test_set_up_is_validated_for_the_operator(setup):
    with pytest.raises(ValidationError, match="differ"):
        event_setup_save(crm=setup.crm, site=setup.site, template_stage="10|12", events_pipeline_id="10",
                         template_fields={}, event_fields={"idea_deal": "1"}, ticket_fields={}, stage_pushes={})
    with pytest.raises(ValidationError, match="cannot find its template"):
        event_setup_save(crm=setup.crm, site=setup.site, template_stage="10|12", events_pipeline_id="20",
                         template_fields={}, event_fields={"speaker": "1"}, ticket_fields={}, stage_pushes={})
    with pytest.raises(ValidationError, match="site connection"):
        event_setup_save(crm=setup.crm, site=setup.crm, template_stage="10|12", events_pipeline_id="20",
                         template_fields={}, event_fields={"idea_deal": "1"}, ticket_fields={}, stage_pushes={})
    with pytest.raises(ValidationError, match="unknown fields"):
        event_setup_save(crm=setup.crm, site=setup.site, template_stage="10|12", events_pipeline_id="20",
                         template_fields={}, event_fields={"idea_deal": "1"}, ticket_fields={},
                         stage_pushes={"22": ["password"]})


def test_an_idea_becomes_a_template_at_its_stage_and_only_real_changes_are_sent(setup):
    crm = setup.crm
    crm_deal_seen(crm, _deal("1", "10", "11", **{"501": "<p>текст</p>"}))
    assert not EventTemplate.objects.exists()  # not at the publish stage yet
    crm_deal_seen(crm, _deal("1", "10", "12", **{"501": "<p>текст</p><script>x</script>"}))
    template = EventTemplate.objects.get()
    assert template.description_html == "<p>текст</p>" and template.title == "Крыши"
    assert len(_rows("event_template.upsert")) == 1
    # The hub's own write-back (site id, sync state) comes back as an edit: nothing to send.
    crm_deal_seen(crm, _deal("1", "10", "12", **{"501": "<p>текст</p><script>x</script>", "503": "77",
                                                  "504": "На сайте"}))
    assert len(_rows("event_template.upsert")) == 1
    crm_deal_seen(crm, _deal("1", "10", "13", **{"501": "<p>новый</p>"}))  # moved on, then edited
    assert EventTemplate.objects.get().description_html == "<p>новый</p>"
    assert _rows("event_template.upsert")[-1].payload["description_html"] == "<p>новый</p>"


def test_an_event_releases_its_fields_stage_by_stage(setup):
    crm = setup.crm
    crm_deal_seen(crm, _deal("1", "10", "12"))
    fields = {"601": "1", "603": "05.12.2026", "604": "18:30", "605": "Иван", "606": "Мария"}
    crm_deal_seen(crm, _deal("2", "20", "21", **fields))
    event = EventDate.objects.get()
    assert event.template == EventTemplate.objects.get()
    assert event.starts_at == dt.datetime(2026, 12, 5, 18, 30, tzinfo=MSK)
    assert _rows("event_date.upsert")[-1].payload["values"] == {"title": "Крыши"}
    crm_deal_seen(crm, _deal("2", "20", "22", **fields))
    assert _rows("event_date.upsert")[-1].payload["values"] == {
        "title": "Крыши", "starts_at": "2026-12-05T18:30:00+03:00", "speaker": "Иван"}
    crm_deal_seen(crm, _deal("2", "20", "23", **fields))
    assert _rows("event_date.upsert")[-1].payload["values"]["host"] == "Мария"
    crm_deal_seen(crm, _deal("2", "20", "22", **fields))  # moved back: what was released stays released
    assert _rows("event_date.upsert")[-1].payload["values"]["host"] == "Мария"


def test_a_deal_made_at_a_later_stage_has_released_what_the_stages_before_release(setup):
    crm_deal_seen(setup.crm, _deal("1", "10", "12"))
    crm_deal_seen(setup.crm, _deal("2", "20", "23", **{"601": "1", "603": "05.12.2026 18:30", "605": "Иван",
                                                        "606": "Мария"}))
    assert _rows("event_date.upsert")[-1].payload["values"] == {
        "title": "Крыши", "starts_at": "2026-12-05T18:30:00+03:00", "speaker": "Иван", "host": "Мария"}


def test_a_cancelled_event_releases_nothing_more(setup):
    crm_deal_seen(setup.crm, _deal("1", "10", "12"))
    crm_deal_seen(setup.crm, _deal("2", "20", "21", **{"601": "1", "605": "Иван", "606": "Мария"}))
    crm_deal_seen(setup.crm, _deal("2", "20", "143", **{"601": "1", "605": "Иван", "606": "Мария"}))
    assert set(_rows("event_date.upsert")[-1].payload["values"]) == {"title"}


def test_a_user_field_sends_the_users_name_and_a_text_field_its_text(setup):
    crm_deal_seen(setup.crm, _deal("1", "10", "12"))
    crm_deal_seen(setup.crm, _deal("2", "20", "23", **{"601": "1", "605": "Иван Петров", "606": "17"}))
    values = _rows("event_date.upsert")[-1].payload["values"]
    assert values["host"] == "Мария Смирнова" and values["speaker"] == "Иван Петров"


def test_a_copy_of_the_idea_finds_its_template_by_the_site_id_the_hub_wrote_into_the_idea(setup):
    crm_deal_seen(setup.crm, _deal("1", "10", "12"))
    template = EventTemplate.objects.get()
    external_ref_link(setup.site, "event_template", template.pk, "77")
    crm_deal_seen(setup.crm, _deal("2", "20", "21", **{"503": "77", "504": "На сайте"}))  # the copied fields
    assert EventDate.objects.get().template == template
    assert _rows("event_date.upsert")[-1].payload["template"] == template.pk


def test_a_date_entered_before_its_idea_is_published_goes_when_the_idea_does(setup):
    crm_deal_seen(setup.crm, _deal("1", "10", "11"))  # the idea, not published yet
    crm_deal_seen(setup.crm, _deal("2", "20", "22", **{"601": "1", "605": "Иван"}))
    assert not _rows("event_date.upsert")
    assert "ещё не опубликована" in _rows("deal.note")[0].payload["text"]
    crm_deal_seen(setup.crm, _deal("1", "10", "12"))
    event = EventDate.objects.get()
    assert event.template == EventTemplate.objects.get() and not event.deal_problem
    assert _rows("event_date.upsert")[-1].payload["values"]["speaker"] == "Иван"


def test_an_edit_undone_before_it_went_leaves_the_template_on_the_site_and_send_again_forces(setup):
    crm_deal_seen(setup.crm, _deal("1", "10", "12", title="A"))
    template = EventTemplate.objects.get()
    [row] = _rows("event_template.upsert")
    event_synced(template, "77", fingerprint(row.payload))
    Outbox.objects.update(status=Outbox.Status.SENT)
    crm_deal_seen(setup.crm, _deal("1", "10", "12", title="B"))
    assert EventTemplate.objects.get().sync_state == "pending"
    crm_deal_seen(setup.crm, _deal("1", "10", "12", title="A"))  # back to what the site holds
    assert EventTemplate.objects.get().sync_state == "synced"
    assert not Outbox.objects.filter(action="event_template.upsert", status="pending").exists()
    event_template_publish(EventTemplate.objects.get(), force=True)  # the operator's "send again"
    assert Outbox.objects.filter(action="event_template.upsert", status="pending").count() == 1


def test_a_deal_without_template_or_with_a_bad_date_is_told_once(setup):
    crm = setup.crm
    crm_deal_seen(crm, _deal("2", "20", "21", **{"603": "скоро"}))
    crm_deal_seen(crm, _deal("2", "20", "22", **{"603": "скоро", "605": "Иван"}))
    notes = [row.payload["text"] for row in _rows("deal.note")]
    assert len(notes) == 1 and "не указан шаблон" in notes[0] and "«скоро»" in notes[0]
    assert not _rows("event_date.upsert")  # nothing the site could bind
    assert EventDate.objects.get().deal_problem


# ------------------------------------------------------------------------------------ orders
def _sale(order="1", refunded=False, event="E1", phone="+79160000001", quantity=2):
    return SaleData(order_id=order, site_event_id=event, sold_at=dt.datetime(2026, 12, 1, 10, tzinfo=MSK),
                    refunded_at=dt.datetime(2026, 12, 2, tzinfo=MSK) if refunded else None, first_name="Анна",
                    phone=phone, email="ANNA@example.ru",
                    lines=[TicketLine(product_id="77", name="Взрослый", price=Decimal("1500.00"), quantity=quantity)])


def test_an_order_twice_is_one_sale_and_earns_once(setup):
    program = program_default()
    program.earn_percent = Decimal("10")
    program.save()
    first, created = ticket_sale_record(setup.site, _sale())
    again, created_again = ticket_sale_record(setup.site, _sale())
    assert created and not created_again and first.pk == again.pk
    assert TicketSale.objects.count() == 1 and Purchase.objects.count() == 1
    contact = Contact.objects.get()
    assert contact.email == "anna@example.ru" and spendable_points(contact, program) == Decimal("300.00")
    assert first.event is None and first.tickets == 2 and first.amount == Decimal("3000.00")


def test_a_refund_is_final_even_when_it_arrives_before_the_payment(setup):
    program = program_default()
    program.earn_percent = Decimal("10")
    program.save()
    ticket_sale_record(setup.site, _sale(refunded=True))
    sale, _ = ticket_sale_record(setup.site, _sale())  # the late "paid"
    assert sale.status == TicketSale.Status.REFUNDED and sale.purchase.status == Purchase.Status.REFUNDED
    assert spendable_points(Contact.objects.get(), program) == 0


def test_a_refund_without_the_buyer_takes_the_points_back(setup):
    program = program_default()
    program.earn_percent = Decimal("10")
    program.save()
    ticket_sale_record(setup.site, _sale())
    contact = Contact.objects.get()
    assert spendable_points(contact, program) == Decimal("300.00")
    sale, _ = ticket_sale_record(setup.site, SaleData(**{**_sale(refunded=True).__dict__, "phone": "", "email": ""}))
    assert sale.contact == contact and spendable_points(contact, program) == 0


def test_a_mistyped_phone_does_not_lose_the_order_and_a_known_event_is_linked(setup):
    event = EventDate.objects.create(setup=setup, crm_deal_id="9", title="Крыши")
    external_ref_link(setup.site, "event_date", event.pk, "E1")
    sale, _ = ticket_sale_record(setup.site, _sale(phone="12"))
    assert sale.event == event and sale.contact.phone == "" and sale.contact.email == "anna@example.ru"
    with pytest.raises(ValidationError):
        ticket_sale_record(setup.site, SaleData(order_id="2", site_event_id="E1", sold_at=sale.sold_at,
                                                refunded_at=None))


def test_a_sale_whose_event_reached_the_site_while_it_was_recorded_is_linked_after_commit(
        setup, django_capture_on_commit_callbacks):
    event = EventDate.objects.create(setup=setup, crm_deal_id="9", title="Крыши")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sale, _ = ticket_sale_record(setup.site, _sale())
    assert sale.event is None
    external_ref_link(setup.site, "event_date", event.pk, "E1")  # the event's sync, not seen by the sale
    for callback in callbacks:
        callback()
    sale.refresh_from_db()
    assert sale.event == event
