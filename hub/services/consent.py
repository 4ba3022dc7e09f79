"""152-FZ consent: publish versioned texts, record grants and withdrawals."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hub.models import ConsentRecord, ConsentText, Contact
from hub.models.consent import Purpose
from hub.services.contacts import contact_publish


def consent_text_publish(*, purpose: str, version: str, text: str, operator_name: str,
                         processors: list[str] | None = None,
                         data_categories: list[str] | None = None) -> ConsentText:
    """A new version of a consent document; an existing version is never edited."""
    if ConsentText.objects.filter(purpose=purpose, version=version).exists():
        raise ValidationError({"version": f"Version {version} of this consent already exists."})
    return ConsentText.objects.create(
        purpose=purpose, version=version, text=text, operator_name=operator_name,
        text_hash=hashlib.sha256(text.encode()).hexdigest(),
        processors=processors or [], data_categories=data_categories or [],
    )


def consent_text_current(purpose: str) -> ConsentText | None:
    return ConsentText.objects.filter(purpose=purpose).order_by("-published_at", "-pk").first()


@transaction.atomic
def consent_grant(
    *,
    purpose: str,
    subject_kind: str,
    subject_id: str,
    channel: str,
    method: str,
    contact: Contact | None = None,
    source: dict[str, Any] | None = None,
    consent_text: ConsentText | None = None,
    granted_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Record agreement to the current (or given) text; repeating it is a no-op."""
    text = consent_text or consent_text_current(purpose)
    if text is None:
        raise ValidationError({"purpose": f"No consent text is published for {purpose!r}."})
    active = ConsentRecord.objects.filter(subject_kind=subject_kind, subject_id=subject_id, purpose=purpose,
                                          consent_text=text, withdrawn_at__isnull=True).first()
    if active:
        if contact and not active.contact_id:
            active.contact = contact
            active.save(update_fields=["contact"])
        return active
    record = ConsentRecord.objects.create(
        contact=contact, subject_kind=subject_kind, subject_id=str(subject_id), purpose=purpose,
        consent_text=text, text_version=text.version, text_hash=text.text_hash, channel=channel,
        source=source or {}, method=method, purposes=[Purpose(purpose).label.__str__()],
        data_categories=text.data_categories, operator_name=text.operator_name, processors=text.processors,
        granted_at=granted_at or timezone.now(),
    )
    if contact is not None:
        contact_publish(contact)  # the CRM card shows consent flags
    return record


def consent_withdraw(*, purpose: str, channel: str, contact: Contact | None = None,
                     subject_kind: str = "", subject_id: str = "") -> int:
    """Withdraw every active consent of the subject for ``purpose``; returns how many."""
    rows = ConsentRecord.objects.filter(purpose=purpose, withdrawn_at__isnull=True)
    if contact is not None:
        rows = rows.filter(contact=contact)
    elif subject_kind and subject_id:
        rows = rows.filter(subject_kind=subject_kind, subject_id=subject_id)
    else:
        raise ValidationError("Whose consent to withdraw: give a contact or a subject id.")
    with transaction.atomic():
        contacts = list(Contact.objects.filter(pk__in=rows.exclude(contact=None).values("contact_id")))
        count = rows.update(withdrawn_at=timezone.now(), withdrawal_channel=channel)
        for affected in contacts:
            contact_publish(affected)
    return count


def consent_is_active(contact: Contact | None, purpose: str, *, subject_kind: str = "", subject_id: str = "") -> bool:
    """Given by the contact, or by the subject (a chat id) before anyone knew who they are."""
    active = ConsentRecord.objects.filter(purpose=purpose, withdrawn_at__isnull=True)
    if subject_kind and subject_id and active.filter(subject_kind=subject_kind, subject_id=subject_id).exists():
        return True
    return contact is not None and active.filter(contact=contact).exists()
