"""Mailings fixtures (tests/conftest.py loads them for every test package): an e-mail channel
on Django's locmem backend (a real backend: messages land in ``django.core.mail.outbox``),
consent texts, people with consent, campaigns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from hub.models import Connection, Contact
from hub.models.consent import ConsentRecord, Purpose
from hub.services.connections import connection_upsert
from hub.services.consent import consent_grant, consent_text_publish
from hub.services.contacts import ContactData, child_link, contact_upsert
from mailings.models import Campaign, Template
from mailings.services.schedules import campaign_save

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def email_channel(db: None) -> Connection:
    connection, _ = connection_upsert(name="Почта", system="email",
                                      settings={"backend": LOCMEM, "from_email": "park@example.com",
                                                "max_attempts": 3})
    return connection


@pytest.fixture
def consent_texts(db: None) -> None:
    consent_text_publish(purpose=Purpose.MARKETING, version="1", text="Согласен на рассылки.", operator_name="ООО Парк")
    consent_text_publish(purpose=Purpose.PERSONAL_DATA, version="1", text="Согласен на обработку ПДн.",
                         operator_name="ООО Парк")


@pytest.fixture
def person(consent_texts: None) -> Callable[..., Contact]:
    """A client; marketing consent on the web form (all channels) unless ``consent`` says
    otherwise (a consent channel, or None for no consent)."""
    counter = iter(range(1, 10_000))

    def make(first_name: str = "Анна", *, birth_date: dt.date | None = None, email: str | None = "",
             phone: str = "", consent: str | None = ConsentRecord.Channel.WEB,
             category: str = Contact.Category.ADULT, parent: Contact | None = None,
             last_pass_at: dt.datetime | None = None, last_purchase_at: dt.datetime | None = None,
             messengers: dict[str, str] | None = None) -> Contact:
        n = next(counter)
        if email == "":
            email = f"client{n}@example.com"
        data = ContactData(first_name=first_name, birth_date=birth_date, category=category,
                           emails=[email] if email else [], phones=[phone] if phone else [],
                           messengers=messengers or {})
        contact, _ = contact_upsert(data)
        if last_pass_at or last_purchase_at:
            Contact.objects.filter(pk=contact.pk).update(last_pass_at=last_pass_at, last_purchase_at=last_purchase_at)
            contact.refresh_from_db()
        if parent is not None:
            child_link(parent, contact)
        if consent and category != Contact.Category.CHILD:
            consent_grant(purpose=Purpose.MARKETING, subject_kind="email", subject_id=email or phone or str(n),
                          channel=consent, method=ConsentRecord.Method.CHECKBOX, contact=contact)
        return contact

    return make


@pytest.fixture
def campaign(db: None) -> Callable[..., Campaign]:
    def make(kind: str, body: str = "Здравствуйте, {{ first_name }}!", *, channels: tuple[str, ...] = ("email",),
             **fields: object) -> Campaign:
        template = Template.objects.create(name=f"{kind} {Template.objects.count()}", body=body)
        fields.setdefault("quiet_from", dt.time(0, 0))
        fields.setdefault("quiet_to", dt.time(0, 0))  # no quiet hours unless a test sets them
        return campaign_save(Campaign(name=f"{kind} {Campaign.objects.count()}", kind=kind, template=template,
                                      channels=list(channels), **fields))

    return make
