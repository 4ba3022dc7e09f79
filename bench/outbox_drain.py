"""Outbox drain throughput: N queued contact changes → the generic HTTP emulator, over real HTTP.

    python bench/outbox_drain.py [--rows 2000] [--batch 50] [--database-url postgres://…]
"""

from __future__ import annotations

import argparse
import time

from common import record, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    setup_django(args.database_url)

    from django.conf import settings

    from connectors.base.emulator import RunningEmulator
    from connectors.webhook.emulator import WebhookSystemEmulator
    from hub.models import Connection, Outbox
    from hub.services.connections import connection_upsert
    from hub.services.outbox import outbox_drain

    settings.HUB_OUTBOX_BATCH = args.batch
    Connection.objects.filter(name="bench").delete()  # a previous run on the same --database-url
    with RunningEmulator(WebhookSystemEmulator(token="t", secret="s")) as emulator:
        connection, _ = connection_upsert(name="bench", system="webhook", base_url=emulator.url,
                                          credentials={"token": "t", "secret": "s"},
                                          settings={"rate_limit": "100000/second"})
        Outbox.objects.bulk_create(
            Outbox(connection=connection, action="contact.upsert", target_kind="contact", target_id=i,
                   payload={"id": i, "first_name": f"N{i}", "phone": f"+7912{i:07d}"})
            for i in range(args.rows)
        )
        started = time.perf_counter()
        while outbox_drain().total:
            pass
        elapsed = time.perf_counter() - started
        delivered = emulator.app.state()["deliveries"]
    assert delivered == args.rows, (delivered, args.rows)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    record("outbox drain → generic HTTP emulator", {
        "rows": str(args.rows), "batch": str(args.batch), "db": engine,
        "rows/s": f"{args.rows / elapsed:.0f}", "seconds": f"{elapsed:.2f}",
    })


if __name__ == "__main__":
    main()
