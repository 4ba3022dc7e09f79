"""Random form-encoded events at the CRM webhooks (amoCRM's legacy hooks, Bitrix24's
``application_token`` events), with the right account/token so they get past the door: the
answer is 200 or a 4xx with a reason (the request kept as rejected), never a 5xx; every stored
row is then processed against the CRM's emulator, and none crashes ("failed" means a handler
raised something other than a validation error)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.amocrm.emulator import AmoCRMEmulator
from connectors.base.emulator import RunningEmulator
from connectors.bitrix24 import mapping as b24_mapping
from connectors.bitrix24.emulator import Bitrix24Emulator
from hub.models import Connection, Contact, ExternalRef, Inbox, Outbox
from hub.services.connections import connection_upsert
from hub.services.contacts import ContactData, contact_upsert
from hub.services.inbox import inbox_process
from tests.helpers import assert_webhook_answer_kept, drain_outbox

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

IDS = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["", "0", "-1", "1.5", "²", "٣", "1e3", " 7", "9" * 25,
                                                                  "9" * 5000, "0x10", "七"]), st.text(max_size=8))
TEXTS = st.one_of(st.text(max_size=30), st.sampled_from(["<script>alert(1)</script>", "'; DROP TABLE hub_contact; --",
                                                         "+79161234567", "anna@example.com", "\u202eевил", ""]))
AMO_ENTITIES = st.sampled_from(["contacts", "leads", "companies", "customers"])
AMO_ACTIONS = st.sampled_from(["add", "update", "delete", "status", "responsible", "note", "restore"])
AMO_NAMES = st.sampled_from(["id", "name", "type", "status_id", "pipeline_id", "old_status_id", "responsible_user_id",
                             "custom_fields][0][id", "custom_fields][0][values][0][value", "custom_fields][0][code",
                             "linked_leads_id][5][ID", "date_create", "updated_at"])


@st.composite
def amo_forms(draw: st.DrawFn, known_ids: list[str]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 4))):
        prefix = f"{draw(AMO_ENTITIES)}[{draw(AMO_ACTIONS)}][{draw(st.sampled_from(['0', '1', 'x', '']))}]"
        fields.append((f"{prefix}[id]", draw(st.sampled_from(known_ids) | IDS)))
        fields += [(f"{prefix}[{draw(AMO_NAMES)}]", draw(TEXTS | IDS)) for _ in range(draw(st.integers(0, 3)))]
    fields += draw(st.lists(st.tuples(st.text(max_size=12), TEXTS), max_size=3))
    fields.append(("account[subdomain]", "demo"))
    return draw(st.permutations(fields))


@st.composite
def b24_forms(draw: st.DrawFn, known_ids: list[str], token: str) -> list[tuple[str, str]]:
    odd = st.sampled_from(["ONCRMLEADADD", "oncrmcontactupdate", "", "ONAPPINSTALL"]) | st.text(max_size=10)
    event = draw(st.sampled_from(sorted(b24_mapping.EVENTS)) | odd)
    fields = [("event", event), ("data[FIELDS][ID]", draw(st.sampled_from(known_ids) | IDS)),
              ("auth[application_token]", token)]
    optional = st.sampled_from([("ts", "1717000000"), ("ts", "x"), ("data[FIELDS][CATEGORY_ID]", "1"),
                                ("data[FIELDS][STAGE_ID]", "C1:NEW"), ("auth[access_token]", "live-access"),
                                ("auth[domain]", "demo.bitrix24.ru"), ("event_handler_id", "15")])
    fields += draw(st.lists(optional | st.tuples(st.text(max_size=12), TEXTS), max_size=5))
    return draw(st.permutations(fields))


@pytest.fixture
def amo_fast(db: None) -> Iterator[Connection]:
    with RunningEmulator(AmoCRMEmulator(per_token_limit=1000, account_limit=1000, block_after=10**6)) as emulator:
        creds = emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="amoCRM fuzz", system="amocrm", base_url=emulator.url,
            credentials={k: creds[k] for k in ("client_id", "client_secret", "redirect_uri", "authorization_code")},
            settings={"subdomain": "demo", "max_attempts": 3, "rate_limit": "1000/second"})
        yield connection


@pytest.fixture
def b24_fast(db: None) -> Iterator[Connection]:
    with RunningEmulator(Bitrix24Emulator(burst=1000, drain=1000)) as emulator:
        creds = emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="Bitrix24 fuzz", system="bitrix24", base_url=emulator.url,
            credentials={"webhook_url": emulator.url + creds["webhook_url"],
                         "application_token": creds["application_token"]},
            settings={"max_attempts": 3, "rate_limit": "1000/second"})
        yield connection


def _their_contacts(connection: Connection) -> list[str]:
    """Two contacts the CRM holds (pushed from the hub), so some events name real ones."""
    for n, name in enumerate(["Анна", "<b>Олег</b>"]):
        contact_upsert(ContactData(first_name=name, phones=[f"+7916123456{n}"]))
    drain_outbox()
    ids = list(ExternalRef.objects.filter(connection=connection, kind="contact").values_list("external_id", flat=True))
    assert len(ids) == 2
    return ids


def _check(answer, connection: Connection, before: int) -> None:  # type: ignore[no-untyped-def]
    assert_webhook_answer_kept(answer, connection, before)
    for row in Inbox.objects.filter(pk__gt=before, status=Inbox.Status.RECEIVED):
        written = Contact.objects.count(), Outbox.objects.count()
        processed = inbox_process(row.pk)
        assert processed.status in (Inbox.Status.PROCESSED, Inbox.Status.REJECTED), (processed.kind, processed.error)
        if processed.status == Inbox.Status.REJECTED:  # with the reason, and nothing half-written
            assert processed.error.strip() and (Contact.objects.count(), Outbox.objects.count()) == written


def _reached_processing(connection: Connection) -> None:
    """The fuzz got past the door into real handling, and was refused somewhere too."""
    rows = Inbox.objects.filter(connection=connection)
    assert rows.filter(status=Inbox.Status.PROCESSED).exclude(kind="crm.other").exists()
    assert rows.filter(status=Inbox.Status.REJECTED).exists()


def _last() -> int:
    return Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_random_amocrm_hooks_never_crash(amo_fast):
    known = _their_contacts(amo_fast)

    @FUZZ
    @given(fields=amo_forms(known), multipart=st.booleans())
    @example(fields=[("contacts[update][0][id]", known[0]), ("account[subdomain]", "demo")], multipart=False)
    @example(fields=[("contacts[update][0][id]", "9" * 5000), ("account[subdomain]", "demo")], multipart=False)
    def run(fields: list[tuple[str, str]], multipart: bool) -> None:
        before = _last()
        if multipart:
            data: dict[str, list[str]] = {}
            for key, value in fields:
                data.setdefault(key, []).append(value)
            answer = Client().post(amo_fast.webhook_path, data)
        else:
            answer = Client().post(amo_fast.webhook_path, urlencode(fields),
                                   content_type="application/x-www-form-urlencoded")
        _check(answer, amo_fast, before)

    run()
    _reached_processing(amo_fast)


def test_random_bitrix24_events_never_crash(b24_fast):
    known, token = _their_contacts(b24_fast), b24_fast.credentials["application_token"]

    @FUZZ
    @given(fields=b24_forms(known, token))
    @example(fields=[("event", "ONCRMCONTACTUPDATE"), ("data[FIELDS][ID]", known[0]),
                     ("auth[application_token]", token)])
    @example(fields=[("event", "ONCRMCONTACTUPDATE"), ("data[FIELDS][ID]", "²"), ("auth[application_token]", token)])
    def run(fields: list[tuple[str, str]]) -> None:
        before = _last()
        answer = Client().post(b24_fast.webhook_path, urlencode(fields),
                               content_type="application/x-www-form-urlencoded")
        _check(answer, b24_fast, before)
        assert not Inbox.objects.filter(pk__gt=before, raw_body__contains="live-access").exists()

    run()
    _reached_processing(b24_fast)
