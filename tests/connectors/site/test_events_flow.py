"""Issue #9 end to end, both CRMs and the site emulator over HTTP: an ideas deal becomes a
template on the site (sanitised HTML, the picture), an events deal a calendar event bound to
it, its stages release speaker, date and host; a site sale becomes a ticket deal linked to the
event's deal and earns points; the monthly report adds up. Then the same with the site down
for the whole flow: everything arrives once, in order, when it is back."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import RunningEmulator
from connectors.crm.port import CrmDeal
from connectors.crm.setup import crm_catalog_load
from connectors.site.emulator import SiteEmulator
from events.models import EventDate, EventTemplate, TicketSale
from events.report import event_report
from events.services.setup import event_setup_save
from hub.models import Contact, ExternalRef, Inbox, Outbox
from hub.services.connections import connection_upsert
from hub.services.contacts import ContactData, contact_upsert
from loyalty.selectors import spendable_points
from loyalty.services.ledger import program_default
from tests.helpers import drain_outbox

MSK = ZoneInfo("Europe/Moscow")
DIRTY_HTML = ('<p onclick="steal()">Экскурсия <b>по крышам</b></p><script>alert(1)</script>'
              '<a href="javascript:alert(2)">ссылка</a><iframe src="https://evil.example"></iframe>'
              '<a href="https://roofs.example/plan">план</a>')


def _png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def image_host(settings):
    """A web server holding the pictures the deals link to (on loopback: allowed for the test)."""
    settings.HUB_IMAGE_FETCH_PRIVATE = True
    files: dict[str, bytes] = {"/poster.png": _png(), "/poster2.png": _png("blue"),
                               "/notes.pdf": b"%PDF-1.4 not a picture"}

    def app(environ, start_response):
        request = Request(environ)
        body = files.get(request.path)
        response = Response(body, mimetype="image/png") if body is not None else Response("no", status=404)
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}", files
    server.shutdown()


@pytest.fixture
def site_emulator():
    with RunningEmulator(SiteEmulator(secret="site-secret")) as running:
        yield running


@pytest.fixture
def site(site_emulator, db):
    connection, _ = connection_upsert(name="Сайт", system="site", base_url=site_emulator.url,
                                      credentials={"secret": "site-secret"}, settings={"max_attempts": 3})
    return connection


def _pipelines(crm):
    """ideas (pipeline, publish stage, first stage), events (pipeline, 3 stages), ticket sales (pipeline, stage)."""
    if crm.system == "amocrm":
        return {"ideas": ("3005", "30052", "30050"), "events": ("3006", ("30060", "30061", "30062")),
                "tickets": ("3007", "30070")}
    return {"ideas": ("4", "C4:EXECUTING", "C4:NEW"), "events": ("5", ("C5:NEW", "C5:PREPARATION", "C5:EXECUTING")),
            "tickets": ("6", "C6:NEW")}


def _configure(crm, site, live_server, site_emulator):
    roles = {"t_description": "Описание анонса", "t_image": "Картинка", "t_site_id": "ID шаблона на сайте",
             "t_sync_state": "Выгрузка шаблона", "e_idea_deal": "Сделка-идея", "e_template_id": "ID шаблона",
             "e_starts_at": "Дата проведения", "e_time": "Время", "e_speaker": "Спикер", "e_host": "Администратор",
             "e_site_id": "ID события на сайте", "e_sync_state": "Выгрузка события", "s_event_deal": "Мероприятие"}
    fields = {role: crm.add_deal_field(label, role.replace("_", "")) for role, label in roles.items()}
    crm_catalog_load(crm.connection)
    p = _pipelines(crm)
    crm.connection.refresh_from_db()
    crm.connection.settings["routes"]["ticket_sale"] = {"pipeline_id": p["tickets"][0], "stage_id": p["tickets"][1]}
    crm.connection.save()
    events_pipeline, (_first, agreed, admin) = p["events"]
    event_setup_save(
        crm=crm.connection, site=site, template_stage=f"{p['ideas'][0]}|{p['ideas'][1]}",
        events_pipeline_id=events_pipeline,
        template_fields={r[2:]: f for r, f in fields.items() if r.startswith("t_")},
        event_fields={r[2:]: f for r, f in fields.items() if r.startswith("e_")},
        ticket_fields={r[2:]: f for r, f in fields.items() if r.startswith("s_")},
        stage_pushes={agreed: ["starts_at", "speaker"], admin: ["host"]})
    crm.hook_to(live_server)
    requests.post(f"{site_emulator.url}/_emulator/faults",
                  json={"hub_url": f"{live_server.url}{site.webhook_path}"}, timeout=5)
    return fields


def _new_deal(crm, pipeline, stage, title, field_values, contact_id=""):
    written = crm.port.upsert_deals([("k", CrmDeal(title=title, pipeline_id=pipeline, stage_id=stage,
                                                   contact_external_id=contact_id, field_values=field_values), "")])
    crm.app.wait_deliveries()
    return written.ids["k"]


def _deal_fields(crm, deal_id):
    return crm.port.get_deal(deal_id)["fields"]


def _state(site_emulator):
    return requests.get(f"{site_emulator.url}/_emulator/state", timeout=5).json()


def _sell(site_emulator, event_id, phone, quantity=2, price="1500.00", order_id=None, refund=False):
    body = {"event_id": event_id, "buyer": {"name": "Анна", "last_name": "Петрова", "phone": phone,
                                            "email": "anna@example.ru"},
            "tickets": [{"product_id": "77", "name": "Взрослый билет", "price": price, "quantity": quantity}]}
    if order_id:
        body["order_id"] = order_id
    if refund:
        body["refund"] = True
    answer = requests.post(f"{site_emulator.url}/_emulator/sell", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _idea_and_event(crm, fields, image_url):
    p = _pipelines(crm)
    idea = _new_deal(crm, p["ideas"][0], p["ideas"][2], "Крыши Петербурга",
                     {fields["t_description"]: DIRTY_HTML, fields["t_image"]: image_url})
    crm.move_deal(idea, p["ideas"][0], p["ideas"][1])
    return idea


@pytest.mark.django_db(transaction=True)
def test_ideas_and_events_deals_drive_the_site_and_sales_come_back(crm, site, site_emulator, live_server,
                                                                    image_host):
    host_url, files = image_host
    program = program_default()
    program.earn_percent = Decimal("10")
    program.save()
    fields = _configure(crm, site, live_server, site_emulator)
    p = _pipelines(crm)
    anna, _ = contact_upsert(ContactData(first_name="Анна", last_name="Смирнова", phones=["+79160000001"]))

    idea = _idea_and_event(crm, fields, f"{host_url}/poster.png")
    drain_outbox()
    crm.app.wait_deliveries()
    state = _state(site_emulator)
    [template] = state["templates"]
    assert template["title"] == "Крыши Петербурга"
    html = template["description_html"]
    assert "<b>по крышам</b>" in html and 'href="https://roofs.example/plan"' in html
    for bad in ("<script", "onclick", "javascript:", "<iframe", "alert(1)"):
        assert bad not in html
    assert template["image"]["content_type"] == "image/png"
    assert template["image"]["sha256"] == hashlib.sha256(files["/poster.png"]).hexdigest()
    # The site's template id is written back into the idea deal, with a readable state.
    idea_fields = _deal_fields(crm, idea)
    assert idea_fields[fields["t_site_id"]] == str(template["id"])
    assert idea_fields[fields["t_sync_state"]].startswith("На сайте")
    # The write-back came back as a deal update: nothing is sent to the site again.
    drain_outbox()
    assert _state(site_emulator)["templates"][0]["updated"] == template["updated"]

    # A date: the idea deal copied into the events pipeline (the copy carries the template id).
    events_pipeline, (first, agreed, admin) = p["events"]
    event_deal = _new_deal(crm, events_pipeline, first, "Крыши Петербурга",
                           {fields["e_template_id"]: str(template["id"]), fields["e_speaker"]: "Иван Петров",
                            fields["e_host"]: "Мария"})
    drain_outbox()
    [event] = _state(site_emulator)["events"]
    assert event["template_id"] == str(template["id"]) and event["title"] == "Крыши Петербурга"
    assert not event["speaker"] and not event["host"] and not event["starts_at"]  # not released yet
    assert _deal_fields(crm, event_deal)[fields["e_site_id"]] == str(event["id"])

    crm.move_deal(event_deal, events_pipeline, agreed, {fields["e_starts_at"]: "05.12.2026",
                                                         fields["e_time"]: "18:30"})
    drain_outbox()
    [event] = _state(site_emulator)["events"]
    assert dt.datetime.fromisoformat(event["starts_at"]) == dt.datetime(2026, 12, 5, 18, 30, tzinfo=MSK)
    assert event["speaker"] == "Иван Петров" and not event["host"]
    crm.move_deal(event_deal, events_pipeline, admin)
    drain_outbox()
    [event] = _state(site_emulator)["events"]
    assert event["host"] == "Мария"

    # A later edit of the idea deal updates the template.
    crm.move_deal(idea, p["ideas"][0], p["ideas"][1], {fields["t_description"]: "<p>Новый маршрут</p>",
                                                       fields["t_image"]: f"{host_url}/poster2.png"})
    drain_outbox()
    [template] = _state(site_emulator)["templates"]
    assert template["description_html"] == "<p>Новый маршрут</p>"
    assert template["image"]["sha256"] == hashlib.sha256(files["/poster2.png"]).hexdigest()

    # A sale on the site: the known buyer, a ticket deal linked to the event's deal, points.
    _sell(site_emulator, str(event["id"]), "+7 916 000-00-01", order_id="1001")
    sale = TicketSale.objects.get()
    assert sale.contact == anna and sale.event.crm_deal_id == event_deal and sale.amount == Decimal("3000.00")
    assert Contact.objects.filter(merged_into__isnull=True).count() == 1
    assert spendable_points(anna, program) == Decimal("300.00")
    drain_outbox()
    deal_id = ExternalRef.objects.get(connection=crm.connection, kind="ticket_sale", local_id=sale.pk).external_id
    deal = crm.port.get_deal(deal_id)
    assert (deal["pipeline_id"], deal["stage_id"]) == p["tickets"]
    assert deal["fields"][fields["s_event_deal"]] == event_deal
    assert Decimal(deal["amount"]) == 3000 and deal["contact_id"] == crm.their_id(anna)
    # No second deal from the same order in the purchases pipeline.
    assert not ExternalRef.objects.filter(connection=crm.connection, kind__in=["purchase", "purchase_line"]).exists()

    _sell(site_emulator, str(event["id"]), "+79160000002", quantity=1, order_id="1002")
    _sell(site_emulator, str(event["id"]), "+79160000002", quantity=1, order_id="1002", refund=True)
    report = event_report(dt.date(2026, 12, 1), tz="Europe/Moscow")
    [group] = report.templates
    [row] = group.rows
    assert (row.tickets, row.revenue, row.refunded_tickets, row.refunds, row.net) == (
        3, Decimal("4500.00"), 1, Decimal("1500.00"), Decimal("3000.00"))
    assert spendable_points(anna, program) == Decimal("300.00")
    assert Inbox.objects.filter(status="failed").count() == 0
    assert not Outbox.objects.filter(status__in=["dead", "failed"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_bad_picture_is_told_in_the_deal_and_the_template_still_goes(crm, site, site_emulator, live_server,
                                                                      image_host):
    host_url, _ = image_host
    fields = _configure(crm, site, live_server, site_emulator)
    idea = _idea_and_event(crm, fields, f"{host_url}/notes.pdf")
    drain_outbox()
    [template] = _state(site_emulator)["templates"]
    assert template["image"] is None
    state = _deal_fields(crm, idea)[fields["t_sync_state"]]
    assert state.startswith("На сайте") and "не является картинкой" in state
    assert EventTemplate.objects.get().image_error


@pytest.mark.django_db(transaction=True)
def test_site_down_for_the_whole_flow_then_everything_arrives_once_in_order(crm, site, site_emulator, live_server,
                                                                           image_host):
    host_url, _ = image_host
    fields = _configure(crm, site, live_server, site_emulator)
    p = _pipelines(crm)
    requests.post(f"{site_emulator.url}/_emulator/faults", json={"faults": [{"status": 503, "times": 1000}]},
                  timeout=5)
    idea = _idea_and_event(crm, fields, f"{host_url}/poster.png")
    events_pipeline, (first, agreed, admin) = p["events"]
    event_deal = _new_deal(crm, events_pipeline, first, "Крыши Петербурга", {fields["e_idea_deal"]: idea})
    crm.move_deal(event_deal, events_pipeline, agreed, {fields["e_starts_at"]: "2026-12-05T18:30:00+03:00",
                                                         fields["e_speaker"]: "Иван Петров"})
    crm.move_deal(event_deal, events_pipeline, admin, {fields["e_host"]: "Мария"})
    for _ in range(3):  # the drain keeps trying while the site is down
        drain_outbox()
        Outbox.objects.filter(status="failed").update(next_attempt_at=dt.datetime.now(dt.UTC))
    assert _state(site_emulator)["templates"] == [] and _state(site_emulator)["events"] == []
    assert not Outbox.objects.filter(status="dead").exists()  # an outage does not dead-letter anything
    # The deal is told of the outage once, not on every retry.
    assert Outbox.objects.filter(action="event_deal.upsert", target_kind="event_template").count() <= 3
    assert _deal_fields(crm, idea)[fields["t_sync_state"]].startswith("Не выгружено")
    assert EventDate.objects.get().sync_state == "failed"

    requests.post(f"{site_emulator.url}/_emulator/faults", json={"clear": True}, timeout=5)
    Outbox.objects.filter(status="failed").update(next_attempt_at=dt.datetime.now(dt.UTC))
    drain_outbox()
    state = _state(site_emulator)
    [template], [event] = state["templates"], state["events"]
    assert template["updated"] == 1  # once
    # Created once, with the template it belongs to and everything released so far.
    assert event["template_id"] == str(template["id"])
    assert [change.get("template_id") for change in event["history"]][:1] == [str(template["id"])]
    assert len(event["history"]) == 1
    assert event["speaker"] == "Иван Петров" and event["host"] == "Мария"
    assert _deal_fields(crm, idea)[fields["t_sync_state"]].startswith("На сайте")
    assert _deal_fields(crm, event_deal)[fields["e_site_id"]] == str(event["id"])


@pytest.mark.django_db(transaction=True)
def test_a_sale_for_an_event_the_hub_does_not_know_yet_is_kept_and_linked_when_it_appears(
        crm, site, site_emulator, live_server, image_host):
    host_url, _ = image_host
    fields = _configure(crm, site, live_server, site_emulator)
    p = _pipelines(crm)
    _idea_and_event(crm, fields, f"{host_url}/poster.png")
    drain_outbox()
    [template] = _state(site_emulator)["templates"]
    # The site makes the calendar event but its answer is lost on the way back (a proxy timeout).
    requests.post(f"{site_emulator.url}/_emulator/faults",
                  json={"faults": [{"status": 504, "after": True, "path_prefix": "/events/"}]}, timeout=5)
    events_pipeline, (first, _agreed, _admin) = p["events"]
    event_deal = _new_deal(crm, events_pipeline, first, "Крыши Петербурга",
                           {fields["e_template_id"]: str(template["id"])})
    drain_outbox()
    [event] = _state(site_emulator)["events"]
    assert EventDate.objects.get().sync_state == "failed"

    _sell(site_emulator, str(event["id"]), "+79160000005", order_id="2001")
    sale = TicketSale.objects.get()
    assert sale.event is None and sale.site_event_id == str(event["id"])  # kept, not dropped
    drain_outbox()
    deal_id = ExternalRef.objects.get(connection=crm.connection, kind="ticket_sale", local_id=sale.pk).external_id
    assert not crm.port.get_deal(deal_id)["fields"].get(fields["s_event_deal"])

    Outbox.objects.filter(status="failed").update(next_attempt_at=dt.datetime.now(dt.UTC))
    drain_outbox()  # the retry finds the same calendar event (by its XML_ID) and learns its id
    sale.refresh_from_db()
    assert sale.event.crm_deal_id == event_deal
    assert len(_state(site_emulator)["events"]) == 1
    assert crm.port.get_deal(deal_id)["fields"][fields["s_event_deal"]] == event_deal
    assert ExternalRef.objects.filter(connection=crm.connection, kind="ticket_sale").count() == 1
    assert event_report(dt.date.today().replace(day=1)).unlinked.tickets == 0
