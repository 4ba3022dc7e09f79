"""Campaign runs: who a birthday, lapsed-clients or segment campaign picks on a given day, the
optional bonus, and their messages queued. A run is keyed by its occasion (the venue's date,
the scheduled time, the preview an operator confirmed): running it again adds nobody."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from hub.models import Contact, ContactRelation
from hub.segments import ContactFilter, contacts_matching
from hub.services.connections import time_zone_check
from loyalty.models import Entry
from loyalty.selectors import birthdays_on
from loyalty.services.campaigns import birthday_key_prefix, bonus_grant_many
from loyalty.services.ledger import program_default
from mailings.models import Campaign, CampaignRun, Message
from mailings.services.outgoing import Recipient, campaign_is_offer, messages_queue

log = logging.getLogger(__name__)
RUN_KINDS = (Campaign.Kind.BIRTHDAY, Campaign.Kind.LAPSED, Campaign.Kind.SEGMENT)


def campaign_today(campaign: Campaign, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(campaign.time_zone)).date()


def campaign_filter(campaign: Campaign) -> ContactFilter:
    spec = ContactFilter.from_rules(campaign.rules or {})
    spec.segment = campaign.segment
    return spec


def _birthday(campaign: Campaign, today: dt.date) -> Iterator[Recipient]:
    """Clients whose birthday is ``days_before`` days ahead, and parents of such children: one
    message per parent and day, naming all their children born that day (twins: one message)."""
    day = today + dt.timedelta(days=campaign.days_before)
    born = Contact.objects.filter(birthdays_on(day), merged_into__isnull=True)
    if campaign.audience in (Campaign.Audience.CLIENTS, Campaign.Audience.BOTH):
        for pk in born.exclude(category=Contact.Category.CHILD).values_list("pk", flat=True).iterator():
            yield Recipient(pk, f"birthday:{campaign.pk}:{pk}:{day.year}", {"birthday": day})
    if campaign.audience in (Campaign.Audience.CHILDREN, Campaign.Audience.BOTH):
        links = (ContactRelation.objects.filter(child__in=born.filter(category=Contact.Category.CHILD),
                                                parent__merged_into__isnull=True)
                 .order_by("parent_id", "child__first_name", "child_id")
                 .values_list("parent_id", "child_id", "child__first_name", "child__birth_date"))
        by_parent: dict[int, list[tuple[int, str, dt.date]]] = {}
        for parent_id, child_id, child_name, born_on in links.iterator():
            by_parent.setdefault(parent_id, []).append((child_id, child_name, born_on))
        for parent_id, kids in by_parent.items():
            names = [name for _, name, _ in kids]
            ages = sorted({day.year - born_on.year for _, _, born_on in kids})
            yield Recipient(parent_id, f"birthday:{campaign.pk}:children-of:{parent_id}:{day.isoformat()}",
                            {"birthday": day, "child_name": _listed(names),
                             "child_age": ages[0] if len(ages) == 1 else _listed([str(a) for a in ages])},
                            people=[child_id for child_id, _, _ in kids])


def _listed(names: list[str]) -> str:
    """«Маша», «Маша и Петя», «Аня, Маша и Петя»."""
    return " и ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]


def _lapsed_targets(campaign: Campaign, now: dt.datetime) -> QuerySet[Contact]:
    """Clients who did come, but not for ``lapsed_days``; not messaged by this campaign within
    its cool-down."""
    cutoff = now - dt.timedelta(days=campaign.lapsed_days or 0)
    rows = Contact.objects.filter(merged_into__isnull=True).exclude(category=Contact.Category.CHILD)
    by_pass = Q(last_pass_at__lt=cutoff)
    by_purchase = Q(last_purchase_at__lt=cutoff)
    if campaign.inactivity == Campaign.Inactivity.PASS:
        rows = rows.filter(by_pass)
    elif campaign.inactivity == Campaign.Inactivity.PURCHASE:
        rows = rows.filter(by_purchase)
    else:
        rows = rows.filter(Q(last_pass_at__isnull=False) | Q(last_purchase_at__isnull=False)).filter(
            Q(last_pass_at__isnull=True) | by_pass).filter(Q(last_purchase_at__isnull=True) | by_purchase)
    since = now - dt.timedelta(days=campaign.cooldown_days)
    recently = Message.objects.filter(campaign=campaign, created_at__gte=since)
    return rows.exclude(pk__in=recently.exclude(contact=None).values("contact_id"))


def campaign_check(campaign: Campaign) -> None:
    """What a campaign needs before it can run, as readable errors for the operator."""
    errors: dict[str, str] = {}
    try:
        time_zone_check(campaign.time_zone)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if not campaign.channels:
        errors["channels"] = "Выберите хотя бы один канал."
    if campaign.kind == Campaign.Kind.LAPSED and not campaign.lapsed_days:
        errors["lapsed_days"] = "Укажите, сколько дней клиент не приходил."
    if campaign.kind == Campaign.Kind.NPS and not (campaign.crm_connection_id and campaign.to_stage):
        errors["to_stage"] = "Укажите CRM и этап, после перехода на который спрашивать оценку."
    if campaign.kind == Campaign.Kind.TRIGGER and not campaign.trigger:
        errors["trigger"] = "Выберите событие."
    if campaign.trigger == Campaign.Trigger.DEAL_STAGE and not (campaign.crm_connection_id and campaign.to_stage):
        errors["to_stage"] = "Укажите CRM и этап сделки."
    if campaign.bonus_points is not None and campaign.bonus_points <= 0:
        errors["bonus_points"] = "Количество баллов должно быть больше нуля."
    if campaign.holdout_percent and not campaign_is_offer(campaign):
        errors["holdout_percent"] = ("Контрольная группа — только у маркетинговых рассылок: служебные уведомления "
                                     "и опросы NPS получают все.")
    elif campaign.holdout_percent and campaign.holdout_percent >= 100:
        errors["holdout_percent"] = "Контрольная группа — меньше 100 %, иначе рассылку не получит никто."
    if errors:
        raise ValidationError(errors)


def campaign_run(campaign: Campaign, *, now: dt.datetime | None = None, key: str = "",
                 actor: object = None) -> CampaignRun:
    """Pick, grant, queue. Runs of one campaign take turns (a lock on the run row), so the
    same occasion run twice at once still messages everyone once."""
    if campaign.kind not in RUN_KINDS:
        raise ValidationError("Эта кампания запускается событиями, а не по расписанию.")
    campaign_check(campaign)
    now = now or timezone.now()
    today = campaign_today(campaign, now)
    key = key or today.isoformat()
    with transaction.atomic():
        run, _ = CampaignRun.objects.get_or_create(campaign=campaign, key=key[:100],
                                                   defaults={"actor": actor if getattr(actor, "pk", None) else None})
        run = CampaignRun.objects.select_for_update().get(pk=run.pk)
        if campaign.kind == Campaign.Kind.BIRTHDAY:
            recipients = list(_birthday(campaign, today))
        elif campaign.kind == Campaign.Kind.LAPSED:
            recipients = [Recipient(pk, f"lapsed:{campaign.pk}:{pk}:{today.isoformat()}")
                          for pk in _lapsed_targets(campaign, now).values_list("pk", flat=True).iterator()]
        else:
            recipients = [Recipient(pk, f"segment:{campaign.pk}:{run.key}:{pk}")
                          for pk in contacts_matching(campaign_filter(campaign), now)
                          .values_list("pk", flat=True).iterator()]
        grant = (lambda chosen: _grant(campaign, chosen, today)) if campaign.bonus_points else None
        queued = messages_queue(campaign, recipients, run=run, today=today, on_reachable=grant, now=now)
        run.selected += len({r.key for r in recipients}) - queued.repeated
        run.queued += len(queued.messages)
        run.unreachable += queued.unreachable
        run.finished_at = timezone.now()
        run.save(update_fields=["selected", "queued", "unreachable", "finished_at"])
    log.info("campaign %s run %s: %s new messages, %s not reachable, %s held back (control group)", campaign.pk,
             run.key, len(queued.messages), queued.unreachable, len(queued.held_back))
    return run


def _grant(campaign: Campaign, recipients: list[Recipient], today: dt.date) -> None:
    """The campaign's bonus, to those about to hear about it: the birthday person (the child,
    not the parent) or the lapsed client; keyed like the loyalty birthday bonus, so the two
    never both grant."""
    people = [pk for r in recipients for pk in (r.people or [r.contact_id])]
    if campaign.kind == Campaign.Kind.BIRTHDAY:
        day = today + dt.timedelta(days=campaign.days_before)
        prefix, source = birthday_key_prefix(program_default(), day.year), Entry.Source.BIRTHDAY
        reason = f"С днём рождения! ({day:%d.%m.%Y})"
    else:
        prefix, source = f"winback:{campaign.pk}:{today.isoformat()}:", Entry.Source.CAMPAIGN
        reason = f"Ждём вас снова! ({campaign.name})"[:255]
    if not people:
        return
    granted = bonus_grant_many(Contact.objects.filter(pk__in=people), campaign.bonus_points, key_prefix=prefix,
                               reason=reason, expiry_days=campaign.bonus_expiry_days, source=source)
    for recipient in recipients:
        recipient.context.setdefault("bonus_points", campaign.bonus_points)
    log.info("campaign %s granted %s points to %s people", campaign.pk, campaign.bonus_points, granted)


def campaign_preview(campaign: Campaign, sample: int = 10, now: dt.datetime | None = None) -> tuple[int, list[Contact]]:
    """How many a run would pick now, and a few of them (before an operator presses send)."""
    now = now or timezone.now()
    if campaign.kind == Campaign.Kind.SEGMENT:
        rows = contacts_matching(campaign_filter(campaign), now)
    elif campaign.kind == Campaign.Kind.LAPSED:
        rows = _lapsed_targets(campaign, now)
    elif campaign.kind == Campaign.Kind.BIRTHDAY:
        ids = {r.contact_id for r in _birthday(campaign, campaign_today(campaign, now))}
        rows = Contact.objects.filter(pk__in=ids)
    else:
        return 0, []
    return rows.count(), list(Contact.objects.filter(pk__in=rows.values("pk")).order_by("pk")[:sample])



