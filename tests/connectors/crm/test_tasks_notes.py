"""Managers' to-dos and timeline notes through the CRM port, each run against both emulators over
HTTP: tasks land on the right contact/deal with their text and deadline, go to the item's manager
unless one is named, travel in few requests, and one task on a contact the CRM does not know fails
alone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from connectors.crm.port import CrmContact, CrmDeal, CrmTask

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
DUE = dt.datetime(2030, 5, 17, 15, 30, tzinfo=MSK)
UNKNOWN = "987654"


def _contacts(crm, count: int) -> list[str]:
    written = crm.port.upsert_contacts([(f"c{n}", CrmContact(first_name=f"Клиент {n}",
                                                             phones=[f"+7912000{n:04d}"]), "")
                                        for n in range(count)])
    assert not written.errors
    return [written.ids[f"c{n}"] for n in range(count)]


def _deal(crm, contact_id: str) -> str:
    route = crm.connection.settings["routes"]["purchase"]
    deal = CrmDeal(title="День рождения", pipeline_id=str(route["pipeline_id"]), stage_id=str(route["stage_id"]),
                   contact_external_id=contact_id)
    written = crm.port.upsert_deals([("d", deal, "")])
    assert not written.errors
    return written.ids["d"]


def _calls(crm, since: int) -> list[tuple[str, str]]:
    """(method, path) of the API requests the emulator took after the ``since``-th."""
    return [(r["method"], r["path"]) for r in list(crm.app.request_log)[since:]]


def _batches(calls: list[tuple[str, str]]) -> int:
    return sum(1 for _, path in calls if path.removesuffix(".json").endswith("/batch"))


def test_tasks_land_on_a_contact_and_a_deal_with_their_text_and_deadline(crm):
    [contact] = _contacts(crm, 1)
    deal = _deal(crm, contact)
    crm.reassign("contact", contact, 777)  # the client's manager is not the integration's user
    written = crm.port.add_tasks([
        ("call", CrmTask(entity="contact", external_id=contact, text="Перезвонить клиенту\nПросит про праздник",
                         deadline=DUE)),
        ("check", CrmTask(entity="deal", external_id=deal, text="Уточнить предоплату",
                          deadline=DUE + dt.timedelta(days=1), responsible_id="42")),
    ])
    assert written.errors == {}
    assert set(written.ids) == {"call", "check"} and written.ids["call"] != written.ids["check"]
    tasks = sorted(crm.tasks(), key=lambda t: t["entity"])
    assert tasks == [
        {"entity": "contact", "external_id": contact, "text": "Перезвонить клиенту\nПросит про праздник",
         "deadline": DUE, "responsible_id": "777"},  # no responsible named: the contact's manager
        {"entity": "deal", "external_id": deal, "text": "Уточнить предоплату",
         "deadline": DUE + dt.timedelta(days=1), "responsible_id": "42"},
    ]


def test_many_tasks_travel_in_few_requests(crm):
    contacts = _contacts(crm, 3)
    since = len(crm.app.request_log)
    written = crm.port.add_tasks([(f"t{n}", CrmTask(entity="contact", external_id=contacts[n % 3],
                                                    text=f"Задача {n}", deadline=DUE)) for n in range(60)])
    assert not written.errors and len(set(written.ids.values())) == 60
    assert len(crm.tasks()) == 60
    calls = _calls(crm, since)
    if crm.system == "amocrm":  # the managers read once, then 50 tasks a request
        assert calls.count(("POST", "/api/v4/tasks")) == 2
        assert [c for c in calls if c[1] != "/api/v4/tasks"] == [("GET", "/api/v4/contacts")]
    else:  # each to-do with its contact's read in one batch: 25 a request
        assert _batches(calls) == len(calls) == 3


def test_notes_for_many_contacts_go_out_in_few_requests(crm):
    contacts = _contacts(crm, 3)
    deal = _deal(crm, contacts[0])
    notes = [("contact", contacts[n % 3], f"Заметка {n}") for n in range(120)] + [("deal", deal, "О сделке")]
    since = len(crm.app.request_log)
    crm.port.add_notes(notes)
    calls = _calls(crm, since)
    if crm.system == "amocrm":
        assert calls == [("POST", "/api/v4/contacts/notes")] * 3 + [("POST", "/api/v4/leads/notes")]
        landed = [(n["entity"], str(n["entity_id"]), n["params"]["text"]) for n in crm.app.notes]
        assert landed == [("contacts", c, t) for _, c, t in notes[:-1]] + [("leads", deal, "О сделке")]
    else:  # 121 comments: batches of 50, 50 and 21
        assert _batches(calls) == len(calls) == 3
        landed = [(c["ENTITY_TYPE"], str(c["ENTITY_ID"]), c["COMMENT"]) for c in crm.app.comments]
        assert landed == notes


def test_a_task_on_a_contact_the_crm_does_not_know_fails_alone(crm):
    contacts = _contacts(crm, 2)
    since = len(crm.app.request_log)
    written = crm.port.add_tasks([
        ("a", CrmTask(entity="contact", external_id=contacts[0], text="Первый", deadline=DUE)),
        ("b", CrmTask(entity="contact", external_id=UNKNOWN, text="Некому", deadline=DUE)),
        ("c", CrmTask(entity="contact", external_id=contacts[1], text="Второй", deadline=DUE, responsible_id="42")),
        ("d", CrmTask(entity="contact", external_id=UNKNOWN, text="Тоже некому", deadline=DUE, responsible_id="42")),
    ])
    assert set(written.ids) == {"a", "c"}
    assert set(written.errors) == {"b", "d"}
    assert not any(error.retryable for error in written.errors.values())  # retrying will not make it exist
    assert sorted((t["external_id"], t["text"]) for t in crm.tasks()) == [(contacts[0], "Первый"),
                                                                        (contacts[1], "Второй")]
    if crm.system == "amocrm":  # "b" is known missing from the read; amoCRM refuses "d", the rest goes again
        assert _calls(crm, since) == [("GET", "/api/v4/contacts"), ("POST", "/api/v4/tasks"),
                                      ("POST", "/api/v4/tasks")]
        assert "entity_id" in str(written.errors["d"])
