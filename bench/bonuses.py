"""Mass accrual and birthday selection at scale, each against a per-row ORM loop measured in
the same run (the baseline ratio).

    python bench/bonuses.py [--contacts 100000] [--birthday-contacts 1000000] [--loop 2000]
                            [--database-url postgres://…]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from common import record, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--birthday-contacts", type=int, default=1_000_000)
    parser.add_argument("--loop", type=int, default=2000, help="contacts granted one by one for the baseline")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    setup_django(args.database_url)

    from django.db import connection

    from hub.models import Contact
    from hub.segments import ContactFilter
    from loyalty.models import Account, Allocation, BirthdayBonus, Entry
    from loyalty.selectors import birthdays_on
    from loyalty.services.campaigns import birthday_bonuses_run, mass_accrue, mass_preview
    from loyalty.services.ledger import ledger_earn, program_default

    Allocation.objects.all().delete()
    Entry.objects.all().delete()
    Account.objects.all().delete()
    Contact.objects.all().delete()
    vendor = connection.vendor

    # ---- mass accrual
    Contact.objects.bulk_create((Contact(first_name=f"К{n}", category="adult") for n in range(args.contacts)),
                                batch_size=5000)
    spec = ContactFilter(category="adult")
    started = time.perf_counter()
    preview = mass_preview(spec, 100, "bench")
    preview_s = time.perf_counter() - started
    started = time.perf_counter()
    granted = mass_accrue(spec, 100, campaign="bench", reason="bench")
    mass_s = time.perf_counter() - started
    started = time.perf_counter()
    again = mass_accrue(spec, 100, campaign="bench", reason="bench")
    rerun_s = time.perf_counter() - started
    loop_targets = list(Contact.objects.order_by("pk")[:args.loop])
    started = time.perf_counter()
    for contact in loop_targets:
        ledger_earn(contact, 50, reason="loop", source="campaign", idempotency_key=f"loop:{contact.pk}")
    loop_s = time.perf_counter() - started
    set_rate, loop_rate = granted / mass_s, len(loop_targets) / loop_s
    record(f"mass accrual, {vendor}", {
        "contacts": f"{granted}", "preview s": f"{preview_s:.2f}", "accrual s": f"{mass_s:.2f}",
        "contacts/s": f"{set_rate:.0f}", "re-run s (grants 0)": f"{rerun_s:.2f} ({again})",
        f"per-row ORM loop ({len(loop_targets)})": f"{loop_rate:.0f}/s",
        "set-based ÷ loop": f"{set_rate / loop_rate:.0f}×",
        "preview matched": str(preview.contacts == granted)})

    # ---- birthday selection
    Allocation.objects.all().delete()
    Entry.objects.all().delete()
    Account.objects.all().delete()
    Contact.objects.all().delete()
    base = dt.date(1970, 1, 1)
    Contact.objects.bulk_create((Contact(first_name=f"Д{n}", birth_date=base + dt.timedelta(days=n % 18000))
                                 for n in range(args.birthday_contacts)), batch_size=10000)
    day = dt.date(2027, 3, 3)
    started = time.perf_counter()
    selected = Contact.objects.filter(birthdays_on(day)).count()
    select_s = time.perf_counter() - started
    started = time.perf_counter()
    looped = sum(1 for b in Contact.objects.values_list("birth_date", flat=True).iterator(chunk_size=20000)
                 if b and (b.month, b.day) == (day.month, day.day))
    loop_select_s = time.perf_counter() - started
    rule = BirthdayBonus.objects.create(program=program_default(), points=300, days_before=0)
    started = time.perf_counter()
    granted = birthday_bonuses_run(rule, today=day)
    grant_s = time.perf_counter() - started
    record(f"birthday selection, {vendor}", {
        "contacts": f"{args.birthday_contacts}", "born that day": f"{selected}", "select s": f"{select_s:.2f}",
        "python loop s": f"{loop_select_s:.2f}", "select ÷ loop": f"{loop_select_s / select_s:.0f}×",
        "granted": f"{granted}", "grant s": f"{grant_s:.2f}", "loop agrees": str(looped == selected)})


if __name__ == "__main__":
    main()
