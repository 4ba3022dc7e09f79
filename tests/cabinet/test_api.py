"""The cabinet's JSON API: signing in by a code that really travels through SMS.ru's emulator,
the client's card, editing details (published to Lime and the CRM through the outbox),
withdrawing consent, the session, CSRF, per-address limits, and a clear 4xx for every bad
input."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from cabinet.services import NOT_A_CLIENT, NOTHING_TO_WITHDRAW
from hub.models import ConsentRecord, Contact, ContactIdentity, Outbox
from hub.models.consent import Purpose
from hub.services.connections import connection_upsert
from hub.services.contacts import contact_merge
from hub.services.external_refs import external_ref_link
from tests.cabinet.conftest import PHONE, TELEGRAM_ID, TYPED, last_code, signed_in

API = "/api/cabinet/"


def _post(client: Client, path: str, body: Any = None, **extra: Any) -> Any:
    return client.post(API + path, json.dumps(body if body is not None else {}), content_type="application/json",
                       **extra)


def _patch(client: Client, body: Any, **extra: Any) -> Any:
    return client.patch(API + "me/", json.dumps(body), content_type="application/json", **extra)


def _sign_in(client: Client, sms: Any, phone: str = TYPED) -> Any:
    assert _post(client, "auth/code/", {"phone": phone}).status_code == 200
    return _post(client, "auth/verify/", {"phone": phone, "code": last_code(sms)})


def test_sign_in_by_sms_code_then_see_the_card_and_sign_out(client, sms, family):
    answer = _post(client, "auth/code/", {"phone": TYPED, "via": "sms"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["channel"] == "sms" and 590 <= body["expires_in"] <= 600 and "по SMS" in body["detail"]
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else ""
    answer = _post(client, "auth/verify/", {"phone": TYPED, "code": last_code(sms)})
    assert answer.status_code == 200, answer.content
    assert answer.json()["contact"] == {"first_name": "Анна", "last_name": "Смирнова", "middle_name": "",
                                        "phone": PHONE, "email": "anna@example.com", "birth_date": "1990-05-01"}
    assert client.cookies["sessionid"].value != before  # a new session: nothing planted before survives
    assert client.cookies["csrftoken"].value
    me = client.get(API + "me/")
    assert me.status_code == 200
    assert _post(client, "auth/logout/").status_code == 200
    assert client.get(API + "me/").status_code == 401


def test_sign_in_by_a_code_in_telegram(client, telegram, sms, person):
    person("Борис", phone="+79161234568", messengers={"telegram": TELEGRAM_ID})
    answer = _post(client, "auth/code/", {"phone": "+7 916 123-45-68", "via": "telegram"})
    assert answer.status_code == 200 and answer.json()["channel"] == "telegram"
    code = last_code(telegram, to=TELEGRAM_ID)
    assert _post(client, "auth/verify/", {"phone": "+79161234568", "code": code}).status_code == 200
    assert client.get(API + "me/").json()["contact"]["first_name"] == "Борис"


def test_me_shows_points_with_expiry_children_bookings_purchases_and_consents(client, family):
    body = signed_in(client, family.anna).get(API + "me/").json()
    assert body["contact"]["phone"] == PHONE
    bonus = body["bonus"]
    assert (bonus["balance"], bonus["expiring_30_days"]) == ("120.00", "70.00")  # 30 spent from the soonest
    history = {e["reason"]: e for e in bonus["history"]}
    assert set(history) == {"Покупка билетов", "С днём рождения", "Оплата баллами"}
    earned = history["Покупка билетов"]
    assert (earned["kind"], earned["points"]) == ("earn", "100.00")
    assert dt.datetime.fromisoformat(earned["expires_at"]) == family.expires_at
    assert history["Оплата баллами"]["points"] == "-30.00"
    assert body["children"] == [{"first_name": "Маша", "last_name": "", "birth_date": "2018-03-08",
                                 "relation": "other", "relation_label": "Другое"}]
    assert [(b["number"], b["halls"], b["status"]) for b in body["bookings"]] == [
        (family.booking.pk, ["Зал «Джунгли»"], "confirmed")]  # the past one is not "upcoming"
    (purchase,) = body["purchases"]
    assert (purchase["number"], purchase["total"]) == ("A-17", "1300.00")
    assert sorted((line["product_name"], line["amount"]) for line in purchase["lines"]) == [
        ("Аквагрим", "300.00"), ("Билет детский", "1000.00")]
    assert sorted(c["purpose"] for c in body["consents"]) == ["marketing", "personal_data"]


def test_the_sign_in_code_refusals(client, sms, family, person):
    person("Борис", phone="+79161234568", messengers={"telegram": TELEGRAM_ID})
    cases = [
        ({"phone": "+79990001122"}, 400, NOT_A_CLIENT),  # no such client: says so (see the report)
        ({"phone": "12"}, 400, "номер телефона"),
        ({"phone": TYPED, "via": "telegram"}, 400, "не привязан Telegram"),
        ({"phone": "+79161234568", "via": "telegram"}, 400, "Сейчас не получается"),  # no Telegram provider
        ({"phone": TYPED, "via": "pigeon"}, 400, "pigeon"),
        ({"via": "sms"}, 400, "Обязательное поле"),
        ({"phone": "1" * 40}, 400, "32"),
    ]
    for body, status, reason in cases:
        answer = _post(client, "auth/code/", body)
        assert answer.status_code == status and reason in answer.json()["detail"], (body, answer.json())
    assert _post(client, "auth/code/", {"phone": TYPED}).status_code == 200
    again = _post(client, "auth/code/", {"phone": TYPED})
    assert again.status_code == 429 and "Код уже отправлен" in again.json()["detail"]
    assert 55 <= int(again["Retry-After"]) <= 60


def test_the_verify_refusals_count_wrong_codes_and_lock(client, sms, family):
    assert _post(client, "auth/verify/", {"phone": TYPED, "code": "123456"}).json()["detail"] == \
        "Сначала запросите код."
    assert _post(client, "auth/code/", {"phone": TYPED}).status_code == 200
    code = last_code(sms)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = _post(client, "auth/verify/", {"phone": TYPED, "code": "12ab"})
    assert bad.status_code == 400 and bad.json()["fields"] == {"code": ["Код — это 6 цифр из сообщения."]}
    answers = [_post(client, "auth/verify/", {"phone": TYPED, "code": wrong}) for _ in range(5)]
    assert [a.status_code for a in answers] == [400] * 5
    assert answers[0].json()["detail"] == "Неверный код. Осталось попыток: 4."
    assert "Попытки закончились" in answers[4].json()["detail"]
    locked = _post(client, "auth/verify/", {"phone": TYPED, "code": code})
    assert locked.status_code == 429 and "неверных кодов" in locked.json()["detail"]
    assert client.get(API + "me/").status_code == 401


def test_sign_in_is_limited_per_address(client, sms, family, settings):
    settings.CABINET_THROTTLE_RATES = {"cabinet_code": "2/hour", "cabinet_verify": "1/hour"}
    assert _post(client, "auth/code/", {"phone": "+79990001122"}).status_code == 400
    assert _post(client, "auth/code/", {"phone": "+79990001123"}).status_code == 400
    third = _post(client, "auth/code/", {"phone": TYPED})
    assert third.status_code == 429 and third.json()["detail"].startswith("Слишком много попыток с вашего адреса")
    assert int(third["Retry-After"]) > 0
    other = Client(REMOTE_ADDR="127.0.0.2")  # another address is not affected
    assert _post(other, "auth/code/", {"phone": "+79990001122"}).status_code == 400
    assert _post(client, "auth/verify/", {"phone": TYPED, "code": "123456"}).status_code == 400
    assert _post(client, "auth/verify/", {"phone": TYPED, "code": "123456"}).status_code == 429


@pytest.mark.parametrize(("method", "path", "raw", "content_type", "status"), [
    ("post", "auth/code/", "{", "application/json", 400),
    ("post", "auth/code/", "phone=%2B79161234567", "application/x-www-form-urlencoded", 415),
    ("post", "auth/code/", '["a"]', "application/json", 400),
    ("post", "auth/code/", '{"phone": ["+79161234567"]}', "application/json", 400),
    ("post", "auth/code/", '{"phone": "\\u0000"}', "application/json", 400),
    ("post", "auth/verify/", '{"phone": null, "code": null}', "application/json", 400),
    ("get", "auth/code/", "", "application/json", 405),
    ("put", "me/", "{}", "application/json", 405),
])
def test_malformed_requests_get_a_reason(client, sms, family, method, path, raw, content_type, status):
    answer = getattr(client, method)(API + path, raw, content_type=content_type)
    assert answer.status_code == status, answer.content
    assert answer.json()["detail"]


def test_me_and_its_writes_need_a_signed_in_client(client, family):
    assert client.get(API + "me/").json() == {"detail": "Войдите в личный кабинет."}
    assert client.get(API + "me/").status_code == 401
    assert _patch(client, {"email": "x@example.com"}).status_code == 401
    assert _post(client, "consents/withdraw/", {"purpose": "marketing"}).status_code == 401
    assert _post(client, "auth/logout/").status_code == 200  # signing out twice is fine


def test_editing_details_goes_through_contact_upsert_to_lime_and_the_crm(client, family):
    lime, _ = connection_upsert(name="Лайм", system="lime", base_url="http://127.0.0.1:9",
                                credentials={"username": "api", "password": "p"},
                                settings={"installation_id": 1})
    crm, _ = connection_upsert(name="amoCRM", system="amocrm", base_url="https://park.amocrm.ru",
                               credentials={"long_lived_token": "t"}, settings={"subdomain": "park"})
    external_ref_link(lime, "contact", family.anna.pk, "lime-17")  # a client Lime knows
    Outbox.objects.all().delete()
    answer = _patch(signed_in(client, family.anna), {"email": " Anna.New@Example.com ", "middle_name": "Петровна",
                                                     "birth_date": "1990-05-02", "first_name": ""})
    assert answer.status_code == 200, answer.content
    assert answer.json()["contact"] == {"first_name": "Анна", "last_name": "Смирнова", "middle_name": "Петровна",
                                             "phone": PHONE, "email": "anna.new@example.com",
                                             "birth_date": "1990-05-02"}
    anna = Contact.objects.get(pk=family.anna.pk)
    assert (anna.email, anna.middle_name, anna.birth_date) == ("anna.new@example.com", "Петровна",
                                                                dt.date(1990, 5, 2))
    assert ContactIdentity.objects.filter(contact=anna, kind="email", value="anna.new@example.com").exists()
    pushed = {row.connection_id: row.payload for row in Outbox.objects.filter(action="contact.upsert",
                                                                               target_id=anna.pk)}
    assert set(pushed) == {lime.pk, crm.pk}
    assert all(p["email"] == "anna.new@example.com" and p["middle_name"] == "Петровна" for p in pushed.values())
    Outbox.objects.all().delete()
    assert _patch(client, {"email": "anna.new@example.com"}).status_code == 200  # nothing new: nothing sent
    assert not Outbox.objects.exists()


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"phone": "+79160000000"}, "phone", "логин"),
    ({"email": "not-an-email"}, "email", "e-mail"),
    ({"email": "boris@example.com"}, "email", "другого клиента"),
    ({"birth_date": "2999-01-01"}, "birth_date", "дату рождения"),
    ({"birth_date": "1850-01-01"}, "birth_date", "дату рождения"),
    ({"birth_date": "01.05.1990"}, "birth_date", "ГГГГ-ММ-ДД"),
    ({"first_name": "А" * 151}, "first_name", "150"),
    ({"last_name": "\x00"}, "last_name", "ноль-байт"),
])
def test_bad_details_are_refused_and_nothing_is_merged(client, family, person, body, field, reason):
    boris = person("Борис", email="boris@example.com")
    answer = _patch(signed_in(client, family.anna), body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["fields"] and reason.lower() in answer.json()["detail"].lower()
    boris.refresh_from_db()
    assert boris.merged_into_id is None and Contact.objects.get(pk=family.anna.pk).email == "anna@example.com"


def test_a_signed_in_session_must_send_the_csrf_token(family):
    client = signed_in(Client(enforce_csrf_checks=True), family.anna)
    client.get(API + "me/")  # hands out the CSRF cookie
    refused = _patch(client, {"middle_name": "Петровна"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert _post(client, "consents/withdraw/", {"purpose": "marketing"}).status_code == 403
    token = client.cookies["csrftoken"].value
    assert _patch(client, {"middle_name": "Петровна"}, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_the_csrf_cookie_from_sign_in_works_for_the_next_writes(sms, family):
    client = Client(enforce_csrf_checks=True)
    assert _sign_in(client, sms).status_code == 200  # JSON only: no token needed before signing in
    token = client.cookies["csrftoken"].value
    assert _patch(client, {"middle_name": "Петровна"}, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_withdrawing_marketing_consent_keeps_the_client_signed_in(client, family):
    answer = _post(signed_in(client, family.anna), "consents/withdraw/", {"purpose": "marketing"})
    assert answer.status_code == 200
    assert answer.json() | {"detail": ""} == {"purpose": "marketing", "withdrawn": 1, "signed_out": False,
                                               "detail": ""}
    record = ConsentRecord.objects.get(contact=family.anna, purpose=Purpose.MARKETING)
    assert record.withdrawn_at is not None and record.withdrawal_channel == "web"
    assert [c["purpose"] for c in client.get(API + "me/").json()["consents"]] == ["personal_data"]
    again = _post(client, "consents/withdraw/", {"purpose": "marketing"})
    assert again.json()["withdrawn"] == 0 and again.json()["detail"] == NOTHING_TO_WITHDRAW
    assert _post(client, "consents/withdraw/", {"purpose": "everything"}).status_code == 400


def test_withdrawing_personal_data_consent_stops_mailings_and_signs_out(client, family):
    answer = _post(signed_in(client, family.anna), "consents/withdraw/", {"purpose": "personal_data"})
    body = answer.json()
    assert (answer.status_code, body["withdrawn"], body["signed_out"]) == (200, 1, True)
    assert "30 дней" in body["detail"] and "прекращаем обработку" in body["detail"]
    assert not ConsentRecord.objects.filter(contact=family.anna, withdrawn_at__isnull=True).exists()
    assert client.get(API + "me/").status_code == 401


def test_a_merged_contact_stays_signed_in_as_the_survivor(client, family, person):
    duplicate = person("Анна", email="anna.old@example.com")
    signed_in(client, duplicate)
    contact_merge(family.anna, duplicate)
    assert client.get(API + "me/").json()["contact"]["phone"] == PHONE


def test_the_openapi_schema_lists_every_endpoint(client, db):
    answer = client.get(API + "schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    paths = json.loads(answer.content)["paths"]
    assert {p: sorted(ops) for p, ops in paths.items()} == {
        "/api/cabinet/auth/code/": ["post"], "/api/cabinet/auth/verify/": ["post"],
        "/api/cabinet/auth/logout/": ["post"], "/api/cabinet/me/": ["get", "patch"],
        "/api/cabinet/consents/withdraw/": ["post"]}


def test_codes_expire_for_the_api_too(client, sms, family):
    assert _post(client, "auth/code/", {"phone": TYPED}).status_code == 200
    code = last_code(sms)
    later = timezone.now() + dt.timedelta(minutes=11)
    with mock.patch("django.utils.timezone.now", return_value=later):
        answer = _post(client, "auth/verify/", {"phone": TYPED, "code": code})
    assert answer.status_code == 400 and "истёк" in answer.json()["detail"]
