"""Selecting and queueing a birthday campaign over 1,000,000 contacts: the run (selection,
channel and consent lookup, rendering, one message and one outbox row each), messages queued
per second, and the same day's second run (which must queue nothing).

    python bench/birthday_mailing.py [--contacts 1000000] [--database-url postgres://…]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from common import record, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    setup_django(args.database_url)

    from django.db import connection
    from django.utils import timezone

    from hub.models import ConsentRecord, Contact, Outbox
    from hub.models.consent import Purpose
    from hub.services.connections import connection_upsert
    from hub.services.consent import consent_text_publish
    from mailings.models import Campaign, Message, Template
    from mailings.services.campaigns import campaign_run

    vendor = connection.vendor
    Outbox.objects.all().delete()
    Message.objects.all().delete()
    ConsentRecord.objects.all().delete()
    Contact.objects.all().delete()
    connection_upsert(name="Почта (bench)", system="email",
                      settings={"backend": "django.core.mail.backends.locmem.EmailBackend"})
    text = consent_text_publish(purpose=Purpose.MARKETING, version=f"bench-{time.time()}", text="Рассылки",
                                operator_name="ООО Парк")
    base = dt.date(1970, 1, 1)
    started = time.perf_counter()
    for start in range(0, args.contacts, 50_000):
        rows = Contact.objects.bulk_create(
            (Contact(first_name=f"Д{n}", email=f"c{n}@example.com", birth_date=base + dt.timedelta(days=n % 18000))
             for n in range(start, min(start + 50_000, args.contacts))), batch_size=10_000)
        now = timezone.now()
        ConsentRecord.objects.bulk_create(
            (ConsentRecord(contact=c, subject_kind="email", subject_id=c.email, purpose=Purpose.MARKETING,
                           consent_text=text, text_version=text.version, text_hash=text.text_hash,
                           channel=ConsentRecord.Channel.WEB, method=ConsentRecord.Method.CHECKBOX,
                           operator_name=text.operator_name, granted_at=now) for c in rows), batch_size=10_000)
    fill_s = time.perf_counter() - started
    template = Template.objects.create(name=f"bench {time.time()}",
                                       body='{{ first_name }}, с днём рождения! У вас '
                                            '{{ bonus_balance|plural:"балл,балла,баллов" }}. {{ optout_link }}')
    campaign = Campaign.objects.create(name=f"bench {time.time()}", kind=Campaign.Kind.BIRTHDAY, template=template,
                                       channels=["email"])
    day = dt.datetime(2027, 3, 3, 10, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    started = time.perf_counter()
    run = campaign_run(campaign, now=day)
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    again = campaign_run(campaign, now=day)
    rerun_s = time.perf_counter() - started
    born = Contact.objects.filter(birth_date__month=3, birth_date__day=3).count()
    record(f"birthday campaign select + queue, {vendor}", {
        "contacts": f"{args.contacts}", "born that day": f"{born}", "queued": f"{run.queued}",
        "run s": f"{run_s:.2f}", "messages queued/s": f"{run.queued / run_s:.0f}",
        "outbox rows": f"{Outbox.objects.count()}", "same-day re-run s (new)": f"{rerun_s:.2f} "
        f"({again.queued - run.queued})", "fill s": f"{fill_s:.0f}"})


if __name__ == "__main__":
    main()
