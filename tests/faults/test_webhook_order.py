"""Duplicate, reordered and late webhooks: the hub ends with the last real change.

The CRM bodies are the emulators' own (captured at a hook receiver), then delivered to the hub
in the order a flaky network produces: twice, newer before older, an old one after a newer one
was applied, and an older read that a slow worker applies after a faster worker applied a newer
one. A CRM event is processed by reading the entity as the CRM holds it now, so the hub must end
with what the CRM holds, whatever the order."""

from __future__ import annotations

from unittest import mock

import pytest
import requests
from django.test import Client
from django.utils import timezone

from connectors.crm.connector import CrmConnector
from hub.models import ClientRequest, Contact, CrmDealState, Inbox, Outbox
from hub.services import inbox as inbox_service
from hub.services.catalog import product_upsert
from hub.services.contacts import ContactData, contact_upsert
from hub.services.inbox import inbox_retry_failed
from hub.services.sales import LineData, purchase_record
from tests.connectors.conftest import amo, amo_emulator, b24, b24_emulator, crm  # noqa: F401 - fixtures
from tests.connectors.tilda.conftest import lead, submit, tilda  # noqa: F401 - fixtures
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """POST a captured body to the hub's webhook URL; its inbox task runs when the request commits."""
    def post(side, body: bytes) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            answer = Client().post(side.connection.webhook_path, data=body,
                                   content_type="application/x-www-form-urlencoded")
        assert answer.status_code == 200, answer.content
    return post


@pytest.fixture
def hooked(crm, hook_receiver):  # noqa: F811 - the imported fixture
    """The CRM's hooks go to a receiver that keeps them, so the test picks the delivery order."""
    key = "webhook_url" if crm.system == "amocrm" else "handler_url"
    requests.post(f"{crm.emulator.url}/_emulator/faults", json={key: f"{hook_receiver.url}/hook"},
                  timeout=5).raise_for_status()
    crm.received = hook_receiver.app.received
    return crm


def _known_contact(side) -> tuple[Contact, str]:
    contact, _ = contact_upsert(ContactData(first_name="Иван", last_name="Орлов", phones=["+79161110001"]))
    drain_outbox()
    return contact, side.their_id(contact)


def _hooks(side, change) -> list[bytes]:
    """The bodies the CRM sent for one change made in its UI."""
    side.app.wait_deliveries()  # hooks of our own earlier writes are not this change's
    before = len(side.received)
    change()
    side.app.wait_deliveries()
    return [hook["raw"] for hook in side.received[before:]]


def _rename(side, external_id: str, first_name: str) -> bytes:
    """A manager renames the contact in the CRM; the one contact-update hook it sends."""
    if side.system == "amocrm":
        edit = {"id": int(external_id), "first_name": first_name, "name": f"{first_name} Орлов"}
    else:
        edit = {"ID": int(external_id), "NAME": first_name}
    url = f"{side.emulator.url}/_emulator/faults"
    [body] = _hooks(side, lambda: requests.post(url, json={"edit_contact": edit}, timeout=5).raise_for_status())
    return body


def _first_name(contact: Contact) -> str:
    return Contact.objects.get(pk=contact.pk).first_name


def test_a_contact_update_delivered_twice_is_applied_once(hooked, deliver):
    contact, their_id = _known_contact(hooked)
    body = _rename(hooked, their_id, "Пётр")
    deliver(hooked, body)
    updated_at = Contact.objects.get(pk=contact.pk).updated_at
    deliver(hooked, body)  # the sender did not see our 200 and sends it again
    assert _first_name(contact) == "Пётр"
    assert Contact.objects.get(pk=contact.pk).updated_at == updated_at  # the repeat changed nothing
    assert not Inbox.objects.exclude(status=Inbox.Status.PROCESSED).exists()
    # What came from this CRM is not sent back to it.
    assert not Outbox.objects.filter(connection=hooked.connection, status="pending").exists()


def test_newer_before_older_and_an_old_one_late_end_with_the_last_change(hooked, deliver):
    contact, their_id = _known_contact(hooked)
    older = _rename(hooked, their_id, "Пётр")
    newer = _rename(hooked, their_id, "Павел")
    deliver(hooked, newer)
    assert _first_name(contact) == "Павел"
    deliver(hooked, older)  # v1 arrives after v2 was applied
    assert _first_name(contact) == "Павел"
    deliver(hooked, newer)  # and v2 once more, late
    deliver(hooked, older)
    assert _first_name(contact) == "Павел"
    # Not stuck either: the next real change still lands.
    deliver(hooked, _rename(hooked, their_id, "Пров"))
    assert _first_name(contact) == "Пров"


def test_an_older_read_applied_late_by_a_slow_worker_does_not_win(hooked, deliver, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    """Worker A reads the contact for hook v1 and stalls; meanwhile the manager renames it again and
    worker B handles hook v2 start to finish. A must not then apply its older read over B's."""
    contact, their_id = _known_contact(hooked)
    first = _rename(hooked, their_id, "Пётр")
    # B does not wait for A here (as if A stalled past the wait): its event is retried by the sweep.
    monkeypatch.setattr(inbox_service, "ENTITY_LOCK_WAIT", 0)
    read = CrmConnector.fetch_for_inbox
    overtaken: list[int] = []

    def slow_read(self, row):
        fetched = read(self, row)
        if not overtaken:  # A has read "Пётр" and stalls here
            overtaken.append(row.pk)
            deliver(hooked, _rename(hooked, their_id, "Павел"))  # worker B's whole turn
        return fetched

    with mock.patch.object(CrmConnector, "fetch_for_inbox", autospec=True, side_effect=slow_read):
        deliver(hooked, first)
    with django_capture_on_commit_callbacks(execute=True):
        inbox_retry_failed()  # the beat's sweep: what could not run beside A runs now
    assert _first_name(contact) == "Павел"
    assert not Inbox.objects.exclude(status=Inbox.Status.PROCESSED).exists()


def test_a_deal_dragged_back_and_forth_ends_where_the_manager_left_it(hooked, deliver):
    """A status hook may be minimal (id, status, pipeline, old status): the second move A → B sends
    the very same body as the first. It is a new change, not a repeat, and must not be dropped."""
    contact, _ = _known_contact(hooked)
    ticket = product_upsert(name="Билет", base_price="500")
    purchase_record(purchased_at=timezone.now(), contact=contact, lines=[LineData(product=ticket, price=500)])
    drain_outbox()
    state = CrmDealState.objects.get(connection=hooked.connection)
    route = hooked.connection.settings["routes"]["purchase"]
    a = str(route["stage_id"])
    b = "142" if hooked.system == "amocrm" else f"C{route['pipeline_id']}:PREPARATION"
    stage_hook = "leads%5Bstatus%5D" if hooked.system == "amocrm" else "ONCRMDEALUPDATE"

    def move(stage: str) -> bytes:
        """The manager drags the deal; the hook of an account subscribed to stage changes only."""
        bodies = _hooks(hooked, lambda: hooked.move_deal(state.external_id, route["pipeline_id"], stage))
        return next(body for body in bodies if stage_hook in body.decode())

    for stage in (b, a, b):
        deliver(hooked, move(stage))
        assert CrmDealState.objects.get(pk=state.pk).stage_id == stage


def test_tilda_the_same_form_twice_and_two_forms_out_of_order_make_one_client(tilda,  # noqa: F811
                                                                               django_capture_on_commit_callbacks):
    first, second = lead("7000001:1"), lead("7000001:2", Comments="Перезвоните")
    with django_capture_on_commit_callbacks(execute=True):
        for fields in (second, first, second, first):  # reordered, each one twice
            assert submit(tilda, fields).status_code == 200
    assert Contact.objects.count() == 1
    assert ClientRequest.objects.count() == 2  # one per submission, none per repeat
    assert sum("Перезвоните" in r.text for r in ClientRequest.objects.all()) == 1
    assert Inbox.objects.filter(status=Inbox.Status.PROCESSED).count() == 2
