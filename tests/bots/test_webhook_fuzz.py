"""Hostile and odd updates through the bot webhooks (Telegram and VK, correct secrets): the
webhook answers 200 or a 4xx with a reason, never a 5xx, and processing whatever was stored
never crashes (no inbox row ends "failed")."""

from __future__ import annotations

import json

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.models import Inbox
from hub.services.connections import connection_upsert
from hub.services.consent import consent_text_publish
from hub.services.inbox import inbox_process

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.text(max_size=40),
                    st.sampled_from(["pd:yes", "pd:no", "mk:yes", "menu:balance", "menu:manager", "СТОП", "/start",
                                     "+79161234567", "123456", "другой номер"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=8)
user = {"id": 500000000123, "is_bot": False, "first_name": "Павел"}
telegram_message = st.fixed_dictionaries(
    {"message_id": st.integers(1, 10**6), "from": st.one_of(st.just(user), values),
     "chat": st.just({"id": 500000000123, "type": "private"})},
    optional={"text": st.one_of(st.text(max_size=50), values), "date": values,
              "contact": st.one_of(values, st.fixed_dictionaries({"phone_number": st.text(max_size=20),
                                                                  "user_id": st.one_of(values, st.just(user["id"]))}))})
telegram_updates = st.fixed_dictionaries(
    {"update_id": st.one_of(st.integers(1, 10**9), values)},
    optional={"message": st.one_of(telegram_message, values),
              "callback_query": st.fixed_dictionaries({"id": st.one_of(st.text(min_size=1, max_size=10), values),
                                                       "from": st.one_of(st.just(user), values),
                                                       "data": st.one_of(scalars, values)})})
vk_events = st.fixed_dictionaries(
    {"type": st.sampled_from(["message_new", "message_reply", "confirmation", "group_join"]) | st.text(max_size=10),
     "group_id": st.sampled_from([229000001, 1]) | values, "event_id": st.text(max_size=12) | values,
     "secret": st.just("emu-secret"),
     "object": st.one_of(values, st.fixed_dictionaries({"message": st.fixed_dictionaries(
         {"id": st.integers(1, 10**6), "from_id": st.just(31000777) | values, "peer_id": st.just(31000777),
          "text": st.text(max_size=40) | values, "payload": st.text(max_size=30) | values})}))})
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


def _bots():
    from hub.models.consent import ConsentText

    if not ConsentText.objects.exists():
        consent_text_publish(purpose="personal_data", version="1", text="ПДн", operator_name="ООО")
        consent_text_publish(purpose="marketing", version="1", text="Рассылки", operator_name="ООО")
    telegram, _ = connection_upsert(name="TG", system="telegram", base_url="http://127.0.0.1:9",
                                    credentials={"token": "1:x", "webhook_secret": "tg-secret"})
    vk, _ = connection_upsert(name="VK", system="vk", base_url="http://127.0.0.1:9",
                              credentials={"access_token": "x", "secret": "emu-secret", "confirmation": "c0nf"},
                              settings={"group_id": 229000001})
    return telegram, vk


def _check(answer, inbox_before: int) -> None:
    assert answer.status_code < 500, answer.content
    if answer.status_code >= 400:
        assert answer.content.strip()  # a reason
    for row in Inbox.objects.filter(pk__gt=inbox_before, status=Inbox.Status.RECEIVED):
        processed = inbox_process(row.pk)
        assert processed.status != Inbox.Status.FAILED, processed.error


@FUZZ
@given(body=st.one_of(telegram_updates, values))
def test_telegram_updates_never_crash(db, body):
    telegram, _ = _bots()
    before = Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    answer = Client().post(telegram.webhook_path, json.dumps(body), content_type="application/json",
                           HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="tg-secret")
    _check(answer, before)


@FUZZ
@given(body=st.one_of(vk_events, values))
def test_vk_events_never_crash(db, body):
    _, vk = _bots()
    before = Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    answer = Client().post(vk.webhook_path, json.dumps(body), content_type="application/json")
    _check(answer, before)
