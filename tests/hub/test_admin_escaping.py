"""Names, notes and product names carrying markup, SQL, template syntax and RTL overrides,
arriving through real webhooks (a Tilda form and order, the generic signed webhook), are
stored exactly as sent and shown escaped on every admin page that displays them: the contact
list and form, the dashboard, the audit log, the history, the analytics lists, the inbox and
outbox (raw payloads), client requests."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from connectors.base.webhooks import hmac_sha256
from hub.models import ClientRequest, Connection, Contact, Inbox, Outbox, Product
from hub.services.connections import connection_upsert
from hub.services.inbox import inbox_process
from tests.connectors.tilda.conftest import API_KEY, lead, submit

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SQL = "'; DROP TABLE hub_contact; --"
TEMPLATE = "{{7*7}}{% now 'Y' %}"
RTL = "\u202eанна\u202c"
PRODUCT = "<script>alert('p')</script> Билет"
#: what must never reach a page as markup
RAW = ("<script>alert(", "<img src=x onerror", "<script>alert('p')")


@pytest.fixture
def hostile(consent_texts: None, django_capture_on_commit_callbacks) -> dict[str, Contact]:  # type: ignore[no-untyped-def]
    """Two clients from a Tilda lead and an order, one from the generic webhook (with a
    birthday this month, not seen for a year); a subscriber connection so outbox rows exist."""
    tilda, _ = connection_upsert(name="Tilda", system="tilda", credentials={"api_key": API_KEY})
    generic, _ = connection_upsert(name="Generic", system="webhook", base_url="http://127.0.0.1:9",
                                   credentials={"token": "t", "secret": "s"})
    assert submit(tilda, lead(Name=SCRIPT, Comments=f"{IMG} {TEMPLATE}")).status_code == 200
    cart = {"orderid": "7001", "amount": "600",
            "products": [{"name": PRODUCT, "quantity": "1", "amount": "600", "price": "600", "sku": "X-1"}]}
    assert submit(tilda, lead("1234567:1002", Name=IMG, Phone="+79161230002", Email="b@example.com"),
                  cart).status_code == 200
    birthday = timezone.localdate().replace(year=2015, day=1)
    body = json.dumps({"id": "evt-1", "type": "contact.upsert", "data": {
        "id": "c1", "first_name": SQL, "last_name": SCRIPT, "phone": "+79161230003",
        "birth_date": birthday.isoformat()}}).encode()
    answer = Client().post(generic.webhook_path, body, content_type="application/json",
                           headers={"X-Hub-Signature": hmac_sha256("s", body)})
    assert answer.status_code == 200
    for row in Inbox.objects.filter(status=Inbox.Status.RECEIVED):
        assert inbox_process(row.pk).status == Inbox.Status.PROCESSED, row.error
    year_ago = timezone.now() - dt.timedelta(days=400)
    Contact.objects.update(last_pass_at=year_ago)  # "not seen for a year": listed on the lapsed page
    Connection.objects.filter(pk=generic.pk).update(  # an error a system sent back, naming the client
        last_error=f"refused contact {SCRIPT} {IMG}", last_error_at=timezone.now())
    return {"lead": Contact.objects.get(first_name=SCRIPT), "order": Contact.objects.get(first_name=IMG),
            "generic": Contact.objects.get(first_name=SQL)}


def test_hostile_values_are_stored_exactly_as_sent(hostile):
    assert hostile["generic"].last_name == SCRIPT
    assert Product.objects.filter(name=PRODUCT).exists()
    request = ClientRequest.objects.get(contact=hostile["lead"])
    assert IMG in request.text and TEMPLATE in request.text
    assert Contact.objects.count() == 3  # and the DROP TABLE did nothing


def _page(client: Client, url: str, *expected: str) -> str:
    """The page opens, shows each ``expected`` text escaped, and no hostile markup raw."""
    answer = client.get(url)
    assert answer.status_code == 200, url
    html = answer.content.decode()
    for raw in RAW:
        assert raw not in html, f"{url}: unescaped {raw!r}"
    for text in expected:
        assert escape(text) in html, f"{url}: {text!r} is not shown (escaped)"
    return html


def test_admin_pages_show_hostile_values_escaped(hostile, admin_client):
    lead_contact, generic = hostile["lead"], hostile["generic"]
    _page(admin_client, reverse("admin:hub_contact_changelist"), SCRIPT, IMG, SQL)
    _page(admin_client, reverse("admin:hub_contact_changelist") + "?q=script", SCRIPT)
    form = _page(admin_client, reverse("admin:hub_contact_change", args=[lead_contact.pk]), SCRIPT)
    assert f'value="{escape(SCRIPT)}"' in form
    _page(admin_client, reverse("admin:hub_contact_change", args=[generic.pk]), SQL, SCRIPT)
    _page(admin_client, reverse("admin:hub_contact_history", args=[generic.pk]), SQL)
    _page(admin_client, reverse("admin:index"), f"refused contact {SCRIPT} {IMG}")
    _page(admin_client, reverse("audit_log"), SCRIPT, SQL)
    request = ClientRequest.objects.get(contact=lead_contact)
    _page(admin_client, reverse("admin:hub_clientrequest_changelist"), SCRIPT)
    _page(admin_client, reverse("admin:hub_clientrequest_change", args=[request.pk]), IMG, TEMPLATE)
    _page(admin_client, reverse("admin:hub_inbox_changelist"))
    for row in Inbox.objects.all():
        _page(admin_client, reverse("admin:hub_inbox_change", args=[row.pk]))
    generic_row = Inbox.objects.get(connection__system="webhook")
    _page(admin_client, reverse("admin:hub_inbox_change", args=[generic_row.pk]), SQL, SCRIPT)
    outbox = Outbox.objects.filter(payload__icontains="onerror").first()
    assert outbox is not None  # the order's client went out to the subscriber
    _page(admin_client, reverse("admin:hub_outbox_changelist"))
    _page(admin_client, reverse("admin:hub_outbox_change", args=[outbox.pk]), IMG)
    _page(admin_client, reverse("admin:hub_product_changelist"), PRODUCT)
    _page(admin_client, reverse("analytics_tickets") + "?period=year", PRODUCT)
    _page(admin_client, reverse("analytics_lapsed") + "?days=30", SCRIPT, SQL)
    _page(admin_client, reverse("analytics_birthdays"), SQL)


def test_no_admin_list_or_contact_page_shows_hostile_markup_raw(hostile, admin_client):
    """A sweep: every registered model's list (the clients appear in many: accounts, consents,
    requests, relations…) and each client's own pages."""
    from django.contrib import admin

    opened = 0
    for model in admin.site._registry:
        meta = model._meta
        answer = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        if answer.status_code == 200:
            opened += 1
            html = answer.content.decode()
            assert not [raw for raw in RAW if raw in html], meta.label
    assert opened >= 40
    for contact in hostile.values():
        for name in ("hub_contact_change", "hub_contact_history", "hub_contact_profiles"):
            _page(admin_client, reverse(f"admin:{name}", args=[contact.pk]))


def test_crm_names_are_shown_escaped_on_the_routing_page(admin_client):
    """Pipeline, stage, field and user names come from the CRM: external text like any other."""
    from connectors.amocrm.emulator import AmoCRMEmulator
    from connectors.base.emulator import RunningEmulator

    with RunningEmulator(AmoCRMEmulator()) as emulator:
        app = emulator.app
        with app.lock:
            app.pipelines[1]["name"] = SCRIPT
            app.pipelines[1]["_embedded"]["statuses"][0]["name"] = IMG
            app.custom_fields["contacts"].append({"id": 990001, "name": PRODUCT, "type": "text"})
            app.users[1]["name"] = SQL
        creds = app.state()["credentials"]
        amo, _ = connection_upsert(
            name="amoCRM", system="amocrm", base_url=emulator.url, settings={"subdomain": "demo"},
            credentials={k: creds[k] for k in ("client_id", "client_secret", "redirect_uri", "authorization_code")})
        url = reverse("crm_routing", args=[amo.pk])
        assert admin_client.post(url, {"load": "1"}).status_code == 302
        _page(admin_client, url, SCRIPT, IMG, PRODUCT)
