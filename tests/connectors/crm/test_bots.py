"""A bot conversation as managers see it in either CRM: the client's card, the chat on its
timeline in one note per burst (not one per line), and "contact a manager" as a to-do."""

from __future__ import annotations

import datetime as dt
from unittest import mock

from django.utils import timezone

from hub.models import ConsentText, Contact
from hub.services.connections import connection_upsert
from hub.services.inbox import inbox_ingest
from mailings.ports import INCOMING
from tests.helpers import drain_outbox

USER = "500000000999"


def _contact_notes(crm, external_id: str) -> list[str]:
    if crm.system == "amocrm":
        return [n["params"]["text"] for n in crm.app.notes
                if n["entity"] == "contacts" and int(n["entity_id"]) == int(external_id)]
    return [c["COMMENT"] for c in crm.app.comments
            if c.get("ENTITY_TYPE") == "contact" and int(c["ENTITY_ID"]) == int(external_id)]


def _converse(bot, steps: list[dict]) -> None:
    """Each step as the Telegram webhook stores it (the neutral incoming shape), processed."""
    for n, step in enumerate(steps, start=1):
        payload = {"address_kind": "telegram", "address": USER, "provider_id": str(n), "first_name": "Павел",
                   "text": step.get("text", ""), "data": step.get("data", "")}
        if "phone" in step:
            payload |= {"text": "[поделился номером телефона]", "contact": {"phone": step["phone"], "user_id": USER}}
        inbox_ingest(connection=bot, event_key=f"telegram:{n}", kind=INCOMING, payload=payload)


def _later(minutes: int = 2):
    return mock.patch("django.utils.timezone.now", return_value=timezone.now() + dt.timedelta(minutes=minutes))


def test_the_chat_reaches_the_crm_timeline_as_one_note_and_the_question_as_a_task(crm, consent_texts):
    bot, _ = connection_upsert(name="Бот", system="telegram", base_url="http://127.0.0.1:9",
                               credentials={"token": "1:x"}, enabled=False)  # its own sends are not under test
    pd = ConsentText.objects.get(purpose="personal_data").pk
    _converse(bot, [{"text": "/start"}, {"data": f"pd:yes:{pd}"}, {"data": "mk:no"},
                    {"phone": "+79161230000"}, {"data": "menu:manager"},
                    {"text": "Хочу отметить день рождения сына"}])
    drain_outbox()  # the client's card goes now; the chat waits to be gathered
    contact = Contact.objects.get()
    their_id = crm.their_id(contact)
    assert _contact_notes(crm, their_id) == []
    with _later():
        drain_outbox()
    notes = _contact_notes(crm, their_id)
    assert len(notes) == 1  # twelve lines of chat, one note
    assert "Клиент (telegram): /start" in notes[0] and "Хочу отметить день рождения сына" in notes[0]
    assert "Бот (telegram)" in notes[0]
    tasks = crm.tasks()
    assert len(tasks) == 1 and tasks[0]["external_id"] == str(their_id)
    assert "Хочу отметить день рождения сына" in tasks[0]["text"]
    with _later(10):  # a later drain sends nothing again
        drain_outbox()
    assert len(crm.tasks()) == 1 and len(_contact_notes(crm, their_id)) == 1
