"""NPS: after a CRM deal moves to the stage the operator named, the client is asked "how
likely are you to recommend us, 0–10"; the answer (a link, a bot button or a reply with the
number, then a comment) is kept and shown on the contact's CRM card. Nobody is asked again
within the campaign's throttle period."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hub.models import Connection, Contact
from hub.services.contacts import contact_publish
from hub.services.deals import CrmDealView
from mailings.models import Campaign, NpsSurvey
from mailings.services.outgoing import Recipient, messages_queue

OPEN_DAYS = 14  # a bare number in a reply answers a survey asked at most this long ago
COMMENT_HOURS = 24  # free text after a score, within this, is the score's comment
THANKS = "Спасибо за оценку! Если хотите, напишите пару слов: что понравилось или что нам улучшить."
THANKS_COMMENT = "Спасибо за отзыв! Мы его прочитаем."


def nps_link(survey: NpsSurvey) -> str:
    return f"{settings.HUB_PUBLIC_URL}/m/nps/{survey.token}/"


def nps_buttons(survey: NpsSurvey) -> list[list[dict[str, str]]]:
    scores = [{"label": str(n), "data": f"nps:{survey.token}:{n}"} for n in range(11)]
    return [scores[:6], scores[6:]]


def nps_ask(campaign: Campaign, contact: Contact, connection: Connection, deal: CrmDealView) -> NpsSurvey | None:
    """Survey the deal's client, unless an NPS survey reached them within the throttle period
    or this deal's move was already surveyed (a redelivered CRM event)."""
    key = f"nps:{campaign.pk}:{connection.pk}:{deal.id}:{deal.stage_id}"
    since = timezone.now() - dt.timedelta(days=campaign.cooldown_days)
    if NpsSurvey.objects.filter(contact=contact, created_at__gte=since).exists():
        return None
    with transaction.atomic():
        Contact.objects.select_for_update().filter(pk=contact.pk).first()  # two deals at once: one survey
        if NpsSurvey.objects.filter(contact=contact, created_at__gte=since).exists():
            return None
        survey = NpsSurvey.objects.create(campaign=campaign, contact=contact, deal_connection=connection,
                                          deal_id=deal.id)
        queued = messages_queue(campaign, [Recipient(contact.pk, key, {
            "nps_link": nps_link(survey), "deal_title": deal.title}, nps_buttons(survey))])
        if not queued.messages:  # not reachable, or this move was surveyed already
            transaction.set_rollback(True)
            return None
    return survey


def nps_answer(survey: NpsSurvey, score: int | str | None, comment: str = "", *, channel: str) -> NpsSurvey:
    """Store the answer (a later one replaces the score, a comment is kept) and republish the
    contact: the card's NPS field follows."""
    errors = {}
    if score not in (None, ""):
        try:
            value = int(score)
        except (TypeError, ValueError):
            value = -1
        if not 0 <= value <= 10:
            errors["score"] = "Оценка — целое число от 0 до 10."
    elif survey.score is None:
        errors["score"] = "Поставьте оценку от 0 до 10."
    if "\x00" in comment:
        errors["comment"] = "Комментарий содержит недопустимые символы."
    elif len(comment) > 2000:
        errors["comment"] = "Комментарий длиннее 2000 символов."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        survey = NpsSurvey.objects.select_for_update().get(pk=survey.pk)
        if score not in (None, ""):
            survey.score = int(score)
        if comment.strip():
            survey.comment = comment.strip()
        survey.answered_at, survey.answer_channel = timezone.now(), channel
        survey.save(update_fields=["score", "comment", "answered_at", "answer_channel"])
        contact_publish(survey.contact)
    return survey


def nps_reply(contact: Contact | None, channel: str, *, text: str = "", data: str = "") -> str:
    """A message that answers a survey: the reply to send back, or "" when it was not one."""
    if data.startswith("nps:"):
        _, token, score = [*data.split(":"), "", ""][:3]
        survey = NpsSurvey.objects.filter(token=token).first()
        if survey is None or (contact is not None and survey.contact_id != contact.pk):
            return ""
        nps_answer(survey, score, channel=channel)
        return THANKS
    if contact is None:
        return ""
    now = timezone.now()
    number = re.fullmatch(r"\s*(\d{1,2})\s*[.!]?\s*", text or "")
    if number and 0 <= int(number.group(1)) <= 10:
        survey = (NpsSurvey.objects.filter(contact=contact, answered_at__isnull=True,
                                           created_at__gte=now - dt.timedelta(days=OPEN_DAYS))
                  .order_by("-created_at").first())
        if survey is not None:
            nps_answer(survey, int(number.group(1)), channel=channel)
            return THANKS
    if (text or "").strip():
        survey = (NpsSurvey.objects.filter(contact=contact, comment="",
                                           answered_at__gte=now - dt.timedelta(hours=COMMENT_HOURS))
                  .order_by("-answered_at").first())
        if survey is not None:
            nps_answer(survey, None, text.strip()[:2000], channel=channel)
            return THANKS_COMMENT
    return ""
