"""Initial sync of N contacts with children into each CRM emulator (own process, limits
scaled up ×K to keep it short). Prints entities per request, the share of the allowed
request rate actually used, and wall time against the floor the limit allows.

    python bench/crm_sync.py [--contacts 10000] [--scale 10] [--database-url …]
"""

from __future__ import annotations

import argparse
import math
import time

from common import record, setup_django

CRMS = {
    # system: (emulator args at scale K, client rate at scale K (requests/s), entities per request at best)
    "amocrm": (lambda k: ["--per-token-limit", str(7 * k), "--account-limit", str(50 * k),
                          "--long-lived-token", "bench"], lambda k: 7 * k, 50),
    "bitrix24": (lambda k: ["--drain", str(2 * k), "--burst", "50", "--webhook-code", "bench",
                            "--application-token", "bench"], lambda k: 2 * k, 50),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--database-url")
    parser.add_argument("--only", choices=["amocrm", "bitrix24"], help="bench one CRM")
    args = parser.parse_args()
    setup_django(args.database_url)

    from django.conf import settings

    from connectors.base.emulator import EmulatorProcess
    from hub.models import Connection, Contact, ContactRelation, Outbox
    from hub.services.connections import connection_upsert
    from hub.services.outbox import outbox_drain

    settings.HUB_OUTBOX_BATCH = 500
    parents = Contact.objects.bulk_create(Contact(first_name=f"Имя{n}", last_name="Клиентова",
                                                  phone=f"+7915{n:07d}") for n in range(args.contacts))
    children = Contact.objects.bulk_create(Contact(first_name=f"Ребёнок{n}", category="child")
                                           for n in range(args.contacts))
    ContactRelation.objects.bulk_create(ContactRelation(parent=p, child=c, relation="son")
                                        for p, c in zip(parents, children, strict=True))
    for system, (emulator_args, rate, per_request) in CRMS.items():
        if args.only and system != args.only:
            continue
        with EmulatorProcess(system, *emulator_args(args.scale)) as emulator:
            url = emulator.url
            Connection.objects.filter(system=system).delete()
            creds = {"long_lived_token": "bench"} if system == "amocrm" else {
                "webhook_url": f"{url}/rest/1/bench/", "application_token": "bench"}
            connection, _ = connection_upsert(name=f"bench-{system}", system=system, base_url=url, credentials=creds,
                                              settings={"subdomain": "demo", "rate_limit": f"{rate(args.scale)}/second",
                                                        "fields": {}})
            Outbox.objects.bulk_create(Outbox(connection=connection, action="contact.upsert", target_kind="contact",
                                              target_id=p.pk) for p in parents)
            started = time.perf_counter()
            while outbox_drain().total:
                pass
            elapsed = time.perf_counter() - started
            state = emulator.state()
        stats = state["stats"]
        sent = Outbox.objects.filter(connection=connection, status="sent").count()
        requests_made = stats["requests"]
        floor = math.ceil(args.contacts / per_request) / rate(args.scale)
        record(f"CRM initial sync → {system} emulator (limits ×{args.scale})", {
            "contacts": str(args.contacts), "sent": str(sent), "requests": str(requests_made),
            "entities/request": f"{sent / max(requests_made, 1):.1f}",
            "rate used": f"{requests_made / elapsed / rate(args.scale):.0%}",
            "wall s": f"{elapsed:.1f}", "floor s": f"{floor:.1f}", "wall/floor": f"{elapsed / floor:.2f}",
            "429/503": str(stats.get("429", 0) + stats.get("503", 0)),
        })


if __name__ == "__main__":
    main()
