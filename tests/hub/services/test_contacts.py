import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.models import Contact, ContactIdentity, ContactRelation, ExternalRef
from hub.models.consent import Purpose
from hub.services.catalog import product_upsert, service_point_get_or_create
from hub.services.consent import consent_grant, consent_text_publish
from hub.services.contacts import ContactData, card_upsert, child_upsert, contact_merge, contact_upsert
from hub.services.dialogs import dialog_message_record
from hub.services.sales import LineData, pass_record, purchase_record

pytestmark = pytest.mark.django_db


def test_same_phone_in_two_formats_is_one_contact():
    first, created_first = contact_upsert(ContactData(first_name="Анна", phones=["8 (912) 345-67-89"]))
    second, created_second = contact_upsert(ContactData(last_name="Иванова", phones=["+79123456789"]))
    assert created_first and not created_second
    assert first.pk == second.pk
    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name, contact.last_name) == ("+79123456789", "Анна", "Иванова")


def test_email_is_case_insensitive_and_messenger_id_matches():
    contact, _ = contact_upsert(ContactData(emails=["Anna@Example.RU"], messengers={"telegram": "123456789012"}))
    by_email, _ = contact_upsert(ContactData(emails=["anna@example.ru"]))
    by_tg, _ = contact_upsert(ContactData(messengers={"telegram": "123456789012"}))
    assert contact.pk == by_email.pk == by_tg.pk
    assert contact.email == "anna@example.ru"


def test_invalid_phone_is_a_clear_validation_error_and_creates_nothing():
    with pytest.raises(ValidationError) as error:
        contact_upsert(ContactData(first_name="X", phones=["12345"], emails=["not-an-email"]))
    assert set(error.value.message_dict) == {"phone", "email"}
    assert error.value.message_dict["phone"] == ["Некорректный номер телефона."]
    assert Contact.objects.count() == 0


def test_external_ref_finds_contact_even_when_phone_changes(webhook_connection):
    contact, _ = contact_upsert(ContactData(phones=["+79123456789"]), connection=webhook_connection,
                                external_id="c1")
    again, created = contact_upsert(ContactData(phones=["+79997776655"]), connection=webhook_connection,
                                    external_id="c1")
    assert not created and again.pk == contact.pk
    assert set(contact.identities.values_list("value", flat=True)) == {"+79123456789", "+79997776655"}


def test_record_matching_two_contacts_merges_them():
    by_phone, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    by_email, _ = contact_upsert(ContactData(emails=["anna@example.ru"], birth_date=dt.date(1990, 5, 1)))
    merged, created = contact_upsert(ContactData(phones=["+79123456789"], emails=["anna@example.ru"]))
    assert not created and merged.pk == by_phone.pk
    by_email.refresh_from_db()
    assert by_email.merged_into_id == by_phone.pk
    assert merged.birth_date == dt.date(1990, 5, 1)
    assert ContactIdentity.objects.filter(contact=merged).count() == 2


def test_merge_keeps_all_history(webhook_connection):
    consent_text_publish(purpose=Purpose.PERSONAL_DATA, version="1", text="Согласие", operator_name="ООО")
    survivor, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    duplicate, _ = contact_upsert(ContactData(first_name="Аня", emails=["anna@example.ru"]),
                                  connection=webhook_connection, external_id="c77")
    child = child_upsert(duplicate, ContactData(first_name="Петя", birth_date=dt.date(2018, 1, 2)),
                         relation=ContactRelation.Relation.SON)
    shared_child = child_upsert(survivor, ContactData(first_name="Маша"))
    ContactRelation.objects.create(parent=duplicate, child=shared_child)
    card = card_upsert("CARD-1", duplicate)
    product = product_upsert(name="Взрослый билет", base_price="1500")
    when = timezone.now() - dt.timedelta(days=3)
    purchase_record(purchased_at=when, contact=duplicate, card=card,
                    lines=[LineData(product=product, quantity=Decimal(2), price=Decimal("1500"))])
    pass_record(passed_at=when, card=card, product=product, service_point=service_point_get_or_create("Турникет 1"))
    consent_grant(purpose=Purpose.PERSONAL_DATA, subject_kind="email", subject_id="anna@example.ru",
                  channel="web", method="checkbox", contact=duplicate)
    dialog_message_record(channel="telegram", chat_id="1", direction="in", text="Привет", contact=duplicate,
                          external_id="10")

    result = contact_merge(survivor, duplicate)

    assert result.pk == survivor.pk
    assert list(survivor.purchases.values_list("total", flat=True)) == [Decimal("3000.00")]
    assert survivor.passes.count() == 1 and survivor.cards.get().code == "CARD-1"
    assert survivor.consents.count() == 1 and survivor.dialog_messages.count() == 1
    assert set(survivor.children_links.values_list("child_id", flat=True)) == {child.pk, shared_child.pk}
    assert ContactIdentity.objects.get(value="anna@example.ru").contact_id == survivor.pk
    assert ExternalRef.objects.get(external_id="c77").local_id == survivor.pk
    survivor.refresh_from_db()
    assert survivor.last_purchase_at == when and survivor.last_pass_at == when
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == survivor.pk
    # A later event for the duplicate's external id lands on the survivor.
    again, created = contact_upsert(ContactData(last_name="Иванова"), connection=webhook_connection,
                                    external_id="c77")
    assert not created and again.pk == survivor.pk


def test_child_upsert_is_idempotent_and_child_can_hold_a_card():
    parent, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    data = dict(first_name="Петя", birth_date=dt.date(2018, 1, 2))
    child = child_upsert(parent, ContactData(**data), relation="son")
    again = child_upsert(parent, ContactData(**data), relation="son")
    assert child.pk == again.pk and child.category == Contact.Category.CHILD
    card = card_upsert("KID-1", child)
    row, _ = pass_record(passed_at=timezone.now(), card=card)
    assert row.contact_id == child.pk
    with pytest.raises(ValidationError):
        child_upsert(parent, ContactData(first_name="Вася"), relation="uncle")


def test_late_pass_does_not_move_last_pass_back():
    contact, _ = contact_upsert(ContactData(phones=["+79123456789"]))
    now = timezone.now()
    pass_record(passed_at=now, contact=contact)
    pass_record(passed_at=now - dt.timedelta(days=10), contact=contact)
    contact.refresh_from_db()
    assert contact.last_pass_at == now


def test_purchase_is_idempotent_per_external_id(webhook_connection):
    product = product_upsert(name="Детский билет", base_price="900")
    kwargs = dict(purchased_at=timezone.now(), lines=[LineData(product=product, price=Decimal("900"))],
                  connection=webhook_connection, external_id="check-1")
    first, created = purchase_record(**kwargs)
    second, created_again = purchase_record(**kwargs)
    assert created and not created_again and first.pk == second.pk
    assert second.lines.count() == 1 and second.total == Decimal("900.00")


def test_child_given_the_parents_phone_is_still_a_separate_child():
    parent, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"], emails=["a@b.ru"]))
    child = child_upsert(parent, ContactData(first_name="Петя", phones=["8 912 345 67 89"], emails=["A@B.ru"]))
    assert child.pk != parent.pk and child.category == Contact.Category.CHILD
    assert child.parent_links.get().parent_id == parent.pk
    assert not child.identities.exists()


def test_merge_publishes_the_survivor_and_leaves_in_flight_pushes_alone(webhook_connection):
    from hub.models import Outbox

    survivor, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    duplicate, _ = contact_upsert(ContactData(last_name="Иванова", emails=["a@b.ru"]))
    Outbox.objects.filter(target_id=duplicate.pk).update(status=Outbox.Status.SENDING)
    contact_merge(survivor, duplicate)
    assert Outbox.objects.get(target_id=duplicate.pk).status == Outbox.Status.SENDING
    upsert = Outbox.objects.get(target_id=survivor.pk, action="contact.upsert")
    assert (upsert.payload["first_name"], upsert.payload["last_name"]) == ("Анна", "Иванова")
    assert Outbox.objects.filter(action="contact.merged").count() == 1
