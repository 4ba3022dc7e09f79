"""The Tilda webhook through Django's test client: the handshake, the key, garbage, duplicates,
and what each kind of submission becomes (contact, consent, request, purchase, points)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from hub.models import ClientRequest, ConsentRecord, Contact, ContactIdentity, ExternalRef, Inbox, Purchase
from hub.models.consent import ConsentText, Purpose
from hub.services.catalog import product_upsert
from hub.services.connections import connection_pull, connection_upsert
from hub.services.contacts import ContactData, contact_upsert
from hub.services.inbox import inbox_ingest
from loyalty.models import Entry
from loyalty.selectors import spendable_points
from loyalty.services.ledger import ledger_adjust, program_default
from mailings.ports import INCOMING
from tests.connectors.tilda.conftest import API_KEY, CALLBACK_FORM, CART, lead, submit
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def processed(django_capture_on_commit_callbacks):
    """Run the inbox task the webhook queues (Celery is eager in tests) when the request commits."""
    def post(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return submit(*args, **kwargs)
    return post


def _nothing_processed() -> None:
    assert not Contact.objects.exists() and not ClientRequest.objects.exists() and not Purchase.objects.exists()
    assert not Inbox.objects.exclude(status=Inbox.Status.REJECTED).exists()


# ---------------------------------------------------------------------------------------- the edge
def test_the_handshake_is_answered_ok_and_stores_nothing(tilda, client):
    for body in ("test=test", f"test=test&api_key={API_KEY}"):
        answer = client.post(tilda.webhook_path, body, content_type="application/x-www-form-urlencoded")
        assert (answer.status_code, answer.content) == (200, b"ok")
    assert not Inbox.objects.exists()
    answer = client.post(tilda.webhook_path, "test=test&api_key=wrong",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 403


@pytest.mark.parametrize("key", [None, "", "wrong-key", API_KEY + "x"])
def test_a_wrong_or_missing_key_is_403_and_nothing_is_processed(tilda, processed, key):
    answer = processed(tilda, lead(), key=key)
    assert answer.status_code == 403 and "API-ключ" in answer.json()["error"]
    _nothing_processed()
    row = Inbox.objects.get()  # kept for audit, refused
    assert row.status == Inbox.Status.REJECTED and "API-ключ" in row.error


def test_no_key_configured_refuses_everything(tilda, processed):
    tilda.credentials = {}
    tilda.save()
    assert processed(tilda, lead()).status_code == 403
    _nothing_processed()


def test_the_key_may_come_in_a_configured_header(tilda, processed):
    tilda.settings["api_key_field"] = "X-Tilda-Key"
    tilda.save()
    assert processed(tilda, lead(), key=None, HTTP_X_TILDA_KEY="wrong").status_code == 403
    answer = processed(tilda, lead(), key=None, HTTP_X_TILDA_KEY=API_KEY)
    assert (answer.status_code, answer.content) == (200, b"ok")
    assert ClientRequest.objects.count() == 1


def test_the_key_is_not_kept_in_the_inbox(tilda, processed):
    processed(tilda, lead())
    processed(tilda, lead("1234567:1002"), key="wrong")
    processed(tilda, lead("1234567:1003"), encoding="json")
    for row in Inbox.objects.all():
        assert API_KEY not in row.raw_body and "wrong" not in row.raw_body and API_KEY not in json.dumps(row.payload)
        assert "api_key" not in row.payload.get("fields", {})


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    ("Name=Anna&Phone=%2B79161234567&formid=form1", "application/x-www-form-urlencoded", "tranid"),
    ('{"Name": "Anna", "tranid": ', "application/json", "JSON"),
    ('["a", "b"]', "application/json", "объектом"),
    ("<html>hello</html>", "text/html", "tranid"),
    ("tranid=1&payment=%7Bbroken", "application/x-www-form-urlencoded", "JSON"),
    ("tranid=1&payment%5Bproducts%5D%5B0%5D%5Bname%5D=X", "application/x-www-form-urlencoded", "цены"),
])
def test_garbage_is_400_with_a_reason_and_kept_rejected(tilda, client, body, content_type, reason):
    answer = client.post(tilda.webhook_path, f"{body}&api_key={API_KEY}" if "form" in content_type else body,
                         content_type=content_type, HTTP_API_KEY=API_KEY)
    assert answer.status_code == 400 and reason in answer.json()["error"]
    row = Inbox.objects.get()
    assert row.status == Inbox.Status.REJECTED and reason in row.error and row.raw_body
    assert not Contact.objects.exists()


def test_only_post(tilda, client):
    assert client.get(tilda.webhook_path).status_code == 405


# ---------------------------------------------------------------------------------------- a lead
def test_a_lead_makes_a_contact_a_consent_record_and_a_request(tilda, processed, consent_texts):
    answer = processed(tilda, lead(Subscribe="yes", referer="https://park.example/prazdnik"))
    assert (answer.status_code, answer.content) == (200, b"ok")
    row = Inbox.objects.get()
    assert (row.status, row.event_key, row.kind) == (Inbox.Status.PROCESSED, "1234567:1001", "tilda.lead")
    contact = Contact.objects.get()
    assert (contact.first_name, contact.phone, contact.email) == ("Анна", "+79161234567", "anna@example.com")
    request = ClientRequest.objects.get()
    assert (request.kind, request.source, request.contact, request.origin) == ("lead", "tilda", contact, tilda)
    assert request.key == "tilda:form100000001:1234567:1001" and "Заявка" in request.title
    assert "Comments: Хотим день рождения на 10 детей" in request.text and "Phone: +7 (916) 123-45-67" in request.text
    assert "api_key" not in request.text and "tranid" not in request.text
    records = {r.purpose: r for r in ConsentRecord.objects.all()}
    assert set(records) == {Purpose.PERSONAL_DATA, Purpose.MARKETING}
    pd = records[Purpose.PERSONAL_DATA]
    text = ConsentText.objects.get(purpose=Purpose.PERSONAL_DATA)
    assert (pd.subject_kind, pd.subject_id, pd.contact) == ("phone", "+79161234567", contact)
    assert (pd.channel, pd.method) == (ConsentRecord.Channel.WEB, ConsentRecord.Method.CHECKBOX)
    assert (pd.text_version, pd.text_hash, pd.operator_name) == (text.version, text.text_hash, "ООО Парк")
    assert pd.source == {"formid": "form100000001", "tranid": "1234567:1001", "field": "Checkbox", "value": "yes",
                         "page": "https://park.example/prazdnik"}
    assert records[Purpose.MARKETING].source["field"] == "Subscribe"


def test_no_checkbox_no_consent_record(tilda, processed, consent_texts):
    processed(tilda, {**lead(), "Checkbox": ""})
    assert ClientRequest.objects.count() == 1 and not ConsentRecord.objects.exists()


def test_the_same_tranid_again_is_a_no_op(tilda, processed, consent_texts):
    for _ in range(3):
        answer = processed(tilda, lead())
        assert (answer.status_code, answer.content) == (200, b"ok")
    assert Inbox.objects.count() == 1 and ClientRequest.objects.count() == 1
    assert Contact.objects.count() == 1 and ConsentRecord.objects.count() == 1
    # the same person with a new submission: a new request, still one contact, consent not doubled
    processed(tilda, lead("1234567:2002", Phone="8 916 123 45 67"))
    assert ClientRequest.objects.count() == 2 and Contact.objects.count() == 1 and ConsentRecord.objects.count() == 1


def test_a_callback_form_is_a_callback_request(tilda, processed):
    processed(tilda, lead(formid=CALLBACK_FORM, formname="Связаться с менеджером"))
    request = ClientRequest.objects.get()
    assert request.kind == ClientRequest.Kind.CALLBACK and "Связаться с менеджером" in request.title
    assert Inbox.objects.get().kind == "tilda.callback"


def test_what_cannot_be_used_is_noted_and_the_lead_kept(tilda, processed):
    """No consent text published, an unreadable phone, a bad e-mail: the lead still goes."""
    processed(tilda, lead(Phone="12-34", Email="not-an-email"))
    row = Inbox.objects.get()
    assert row.status == Inbox.Status.PROCESSED
    request = ClientRequest.objects.get()
    assert request.contact is None and "Phone: 12-34" in request.text
    warnings = " ".join(row.payload["outcome"]["warnings"])
    assert "Телефон" in warnings and "E-mail" in warnings and "нет ни телефона" in warnings
    assert "согласие" in warnings.lower() and not ConsentRecord.objects.exists()


def test_json_body_reads_like_a_form(tilda, processed, consent_texts):
    processed(tilda, lead(), encoding="json")
    assert ClientRequest.objects.get().contact.phone == "+79161234567" and ConsentRecord.objects.count() == 1


def test_a_known_clients_name_is_not_replaced_by_what_was_typed(tilda, processed):
    known, _ = contact_upsert(ContactData(first_name="Анна", last_name="Петрова", phones=["+79161234567"]))
    processed(tilda, lead(Name="Аня П."))
    known.refresh_from_db()
    assert (known.first_name, known.last_name, known.email) == ("Анна", "Петрова", "anna@example.com")
    assert Contact.objects.count() == 1


# ---------------------------------------------------------------------------------------- orders
@pytest.fixture
def program():
    program = program_default()
    program.earn_percent = Decimal("10")
    program.save()
    return program


@pytest.mark.parametrize("encoding", ["json", "payment-json-string", "payment-flat"])
def test_an_order_is_a_purchase_with_lines_and_earns_points(tilda, processed, consent_texts, program, encoding):
    known_product = product_upsert(name="Взрослый билет (касса)", base_price="650", sku="ADULT-1")
    answer = processed(tilda, lead("1234567:3001", formname="Cart"), CART, encoding=encoding)
    assert (answer.status_code, answer.content) == (200, b"ok")
    row = Inbox.objects.get()
    assert (row.status, row.kind) == (Inbox.Status.PROCESSED, "tilda.order")
    purchase = Purchase.objects.get()
    contact = Contact.objects.get()
    assert (purchase.contact, purchase.number, purchase.sales_point) == (contact, "1557604691", "Tilda")
    assert purchase.total == Decimal("1700.00") and purchase.purchased_at == row.received_at
    lines = list(purchase.lines.order_by("pk"))
    assert [(ln.product_name, ln.quantity, ln.price, ln.amount) for ln in lines] == [
        ("Взрослый билет", 2, Decimal("600.00"), Decimal("1200.00")),
        ("Детский билет (Возраст: 3–7 лет)", 1, Decimal("500.00"), Decimal("500.00"))]
    assert lines[0].product == known_product  # found by SKU, not touched
    known_product.refresh_from_db()
    assert (known_product.name, known_product.base_price) == ("Взрослый билет (касса)", Decimal("650.00"))
    assert lines[1].product.name == "Детский билет" and lines[1].product.kind == "ticket"
    assert spendable_points(contact, program) == Decimal("170.00")  # 10 % of 1700, earned by loyalty
    assert not ClientRequest.objects.exists()  # an order is no lead
    assert ConsentRecord.objects.get().source["tranid"] == "1234567:3001"


def test_a_repeated_order_and_a_second_cart_with_the_same_product(tilda, processed, program):
    processed(tilda, lead("1234567:3001"), CART)
    processed(tilda, lead("1234567:3001"), CART)
    processed(tilda, lead("1234567:3002"), {**CART, "orderid": "1557604692"})
    assert Purchase.objects.count() == 2
    assert Entry.objects.filter(kind=Entry.Kind.EARN).count() == 2
    first, second = ({line.product_id for line in p.lines.all()} for p in Purchase.objects.order_by("pk"))
    assert first == second and len(first) == 2  # the products made for the first cart are reused


def test_points_paid_with_are_redeemed(tilda, processed, program):
    contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79161234567"]))
    ledger_adjust(contact, 500, reason="Подарок", idempotency_key="gift")
    processed(tilda, lead("1234567:3003"), {**CART, "bonuses": "300"})
    redeemed = Entry.objects.get(kind=Entry.Kind.REDEEM)
    assert redeemed.points == Decimal("-300.00") and "1557604691" in redeemed.reason
    assert spendable_points(contact, program) == Decimal("370.00")  # 500 - 300 + 170 earned
    assert Inbox.objects.get().payload["outcome"]["redeemed"] == "300.00"
    processed(tilda, lead("1234567:3003"), {**CART, "bonuses": "300"})  # a redelivery
    assert Entry.objects.filter(kind=Entry.Kind.REDEEM).count() == 1


def test_points_from_a_form_field_named_by_the_operator(tilda, processed, program):
    tilda.settings["fields"] = {"points": "Списать баллов"}
    tilda.save()
    contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79161234567"]))
    ledger_adjust(contact, 100, reason="Подарок", idempotency_key="gift")
    processed(tilda, lead("1234567:3004", **{"Списать баллов": "100"}), CART)
    assert Entry.objects.get(kind=Entry.Kind.REDEEM).points == Decimal("-100.00")


def test_too_few_points_do_not_lose_the_order(tilda, processed, program, caplog):
    contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79161234567"]))
    ledger_adjust(contact, 50, reason="Подарок", idempotency_key="gift")
    processed(tilda, lead("1234567:3005"), {**CART, "bonuses": "300"})
    row = Inbox.objects.get()
    assert row.status == Inbox.Status.PROCESSED
    assert Purchase.objects.get().contact == contact
    assert not Entry.objects.filter(kind=Entry.Kind.REDEEM).exists()
    assert "Недостаточно баллов" in " ".join(row.payload["outcome"]["warnings"])
    assert spendable_points(contact, program) == Decimal("220.00")  # 50 + 170 earned
    assert "+7916" not in caplog.text and "anna@" not in caplog.text and "insufficient_points" in caplog.text


# ---------------------------------------------------------------------------------------- one person
def test_a_lime_client_who_fills_a_tilda_form_stays_one_contact(tilda, processed, lime, lime_emulator):
    connection_pull(lime, full=True)
    before = Contact.objects.count()
    client = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult" and c["phoneNumber"]
                  and not c["email"])
    phone = client["phoneNumber"]  # "79161234567" in Lime
    processed(tilda, lead(Phone=f"8 ({phone[1:4]}) {phone[4:7]}-{phone[7:9]}-{phone[9:]}", Email="new@example.ru"))
    assert Contact.objects.count() == before
    contact = ClientRequest.objects.get().contact
    assert contact.identities.filter(kind=ContactIdentity.Kind.EMAIL, value="new@example.ru").exists()
    drain_outbox()
    assert lime_emulator.app.client_record(client["id"])["email"] == "new@example.ru"  # Lime hears of it


def test_a_new_tilda_client_is_created_in_lime_when_the_operator_wants_it(tilda, processed, lime, lime_emulator):
    lime.settings["create_contacts_in_lime"] = True
    lime.save()
    processed(tilda, lead(Email="first.time@example.ru"))
    drain_outbox()
    assert [c for c in lime_emulator.app.clients.values() if c["email"] == "first.time@example.ru"]


def test_the_same_person_via_the_bot_tilda_and_lime_is_one_contact(tilda, processed, lime, lime_emulator,
                                                                    consent_texts):
    connection_pull(lime, full=True)
    client = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult" and c["phoneNumber"])
    before = Contact.objects.count()
    bot, _ = connection_upsert(name="Бот", system="telegram", base_url="http://127.0.0.1:9",
                               credentials={"token": "1:x"}, enabled=False)
    user = "500000000777"
    agree = f"pd:yes:{ConsentText.objects.get(purpose='personal_data').pk}"  # the button carries the text's id
    for n, step in enumerate([{"text": "/start"}, {"data": agree}, {"data": "mk:no"},
                              {"phone": "+" + client["phoneNumber"]}], start=1):
        payload = {"address_kind": "telegram", "address": user, "provider_id": str(n), "first_name": "Павел",
                   "text": step.get("text", ""), "data": step.get("data", "")}
        if "phone" in step:
            payload |= {"text": "[поделился номером телефона]", "contact": {"phone": step["phone"], "user_id": user}}
        inbox_ingest(connection=bot, event_key=f"telegram:{n}", kind=INCOMING, payload=payload)
    processed(tilda, lead(Phone=client["phoneNumber"], Email="same.person@example.ru"))
    assert Contact.objects.filter(merged_into__isnull=True).count() == before
    contact = ClientRequest.objects.get().contact
    kinds = set(contact.identities.values_list("kind", flat=True))
    assert kinds == {"phone", "email", "telegram"}
    assert ExternalRef.objects.filter(connection=lime, kind="contact", local_id=contact.pk).exists()
