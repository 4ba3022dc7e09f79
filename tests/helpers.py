"""Small helpers shared by tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection as db_connection
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator
from hub.models import Connection, Inbox
from hub.services.outbox import outbox_drain

# What the webhook view answers when a connector's parser crashed: a bug, never a fuzz verdict.
PARSER_CRASHED = "The request could not be read; it was kept for investigation."


def drain_outbox() -> int:
    """Drain until nothing is due; returns how many rows were sent."""
    sent = 0
    while (report := outbox_drain()).total:
        sent += report.sent
    return sent


def assert_webhook_answer_kept(answer: Any, connection: Connection, before: int) -> None:
    """No 5xx; a refusal names its reason (not a parser crash), is kept as rejected, and nothing
    else of that request (Inbox rows after ``before``) was stored."""
    assert answer.status_code < 500, answer.content[:300]
    if answer.status_code >= 400:
        reason = answer.json()["error"]
        assert reason.strip() and reason != PARSER_CRASHED, reason
        assert Inbox.objects.filter(connection=connection, status=Inbox.Status.REJECTED, error=reason).exists()
        assert not Inbox.objects.filter(pk__gt=before).exclude(status=Inbox.Status.REJECTED).exists()


def run_at_once(workers: int, work: Callable[[int], Any]) -> list[BaseException]:
    """Run ``work(i)`` in ``workers`` threads released together; each thread closes its own
    DB connection. Returns the exceptions raised (the caller asserts on them)."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # collected for the caller
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


class HookReceiver(Emulator):
    """Stands in for the hub's webhook endpoint in emulator tests: keeps every ``POST /hook`` as
    the sender made it and answers ``reply`` (set it to what a real receiver answers, e.g.
    SMS.ru's ``100``). The base's faults make it answer 4xx/5xx."""

    name = "hook-receiver"

    def reset(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.reply = ('{"ok": true}', "application/json")

    def routes(self) -> list[Rule]:
        return [Rule("/hook", endpoint="hook", methods=["POST"])]

    def hook(self, request: Request) -> Response:
        raw = request.get_data()  # cached: the form below is parsed from it
        with self.lock:
            self.received.append({
                "raw": raw, "text": raw.decode("utf-8", errors="replace"),
                "body": request.get_json(force=True, silent=True), "form": list(request.form.items(multi=True)),
                "content_type": request.mimetype, "query": dict(request.args), "headers": dict(request.headers),
                "authorization": request.headers.get("Authorization", "")})
            text, mimetype = self.reply
        return Response(text, mimetype=mimetype)
