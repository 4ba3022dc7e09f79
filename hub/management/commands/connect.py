"""Create or update a Connection from flags and the environment (scriptable set-up)."""

from __future__ import annotations

import json
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.services.connections import connection_check, connection_upsert


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{flag} expects KEY=VALUE, got {item!r}")
        result[key] = value
    return result


def _json_values(values: dict[str, str]) -> dict[str, object]:
    """Settings values may be JSON (numbers, lists, objects); plain text stays text."""
    parsed: dict[str, object] = {}
    for key, value in values.items():
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


class Command(BaseCommand):
    help = (
        "Create or update a connection by name. Secrets can come from the environment: "
        "--credential-env password=LIME_PASSWORD reads $LIME_PASSWORD, so they stay out of shell history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--system", help="connector system, e.g. lime, amocrm, webhook")
        parser.add_argument("--base-url")
        parser.add_argument("--credential", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--credential-env", action="append", default=[], metavar="KEY=ENV_VAR")
        parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE(JSON ok)")
        parser.add_argument("--time-zone")
        parser.add_argument("--poll-interval", type=int)
        parser.add_argument("--key", help="webhook key (default: random)")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", dest="enabled", action="store_true", default=None)
        state.add_argument("--disable", dest="enabled", action="store_false")
        parser.add_argument("--check", action="store_true", help="test the connection afterwards")

    def handle(self, *args: object, **opts: object) -> None:
        credentials = _pairs(opts["credential"], "--credential")
        for key, var in _pairs(opts["credential_env"], "--credential-env").items():
            if var not in os.environ:
                raise CommandError(f"environment variable {var} is not set")
            credentials[key] = os.environ[var]
        try:
            connection, created = connection_upsert(
                name=opts["name"], system=opts["system"], base_url=opts["base_url"], credentials=credentials,
                settings=_json_values(_pairs(opts["setting"], "--setting")), time_zone=opts["time_zone"],
                enabled=opts["enabled"], poll_interval=opts["poll_interval"], key=opts["key"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        verb = "created" if created else "updated"
        self.stdout.write(f"Connection {connection.name!r} ({connection.system}) {verb}; "
                          f"webhook path {connection.webhook_path}")
        if opts["check"]:
            result = connection_check(connection)
            self.stdout.write(("OK: " if result.ok else "FAILED: ") + result.message)
            if not result.ok:
                raise CommandError("connection check failed")
