"""Shared by benchmarks: an isolated database, and the RESULTS.md line format."""

from __future__ import annotations

import atexit
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# BENCH_RESULTS: another file, for trial runs that must not land in the record
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "RESULTS.md")
HEADER = "| date (UTC) | benchmark | figures | machine | rev |\n|---|---|---|---|---|\n"


def setup_django(database_url: str | None) -> None:
    """Never the operator's database: a temp SQLite, or the URL given explicitly."""
    sys.path.insert(0, str(ROOT))
    var_dir = tempfile.mkdtemp(prefix="hub-bench-")
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    os.environ["HUB_VAR_DIR"] = var_dir
    os.environ["BENCH_REV"] = revision()  # the code measured, even if the tree moves meanwhile
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["SECRET_KEY"] = "bench-only-not-a-secret"  # a throwaway database
    os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    import django
    from django.core.management import call_command

    django.setup()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # emulator access log
    call_command("migrate", verbosity=0)


def postgres_throwaway(server_url: str, prefix: str) -> str | None:
    """A fresh database on that PostgreSQL server, dropped at exit (benchmarks whose worker
    processes must share it); None when the server does not answer."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(server_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = f"{prefix}_{os.getpid()}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:  # no server, or no right to create databases there
        return None

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    atexit.register(drop)
    return urlunsplit(parts._replace(path=f"/{name}"))


def revision() -> str:
    """The git revision measured, "+uncommitted" when tracked files differ from it."""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,  # noqa: S607
                         text=True, check=False).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,  # noqa: S607
                           capture_output=True, text=True, check=False).stdout.strip()
    return rev + ("+uncommitted" if dirty else "")


def record(name: str, figures: dict[str, str]) -> None:
    rev = os.environ.get("BENCH_REV") or revision()
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"
    line = (f"| {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} | {name} | "
            + ", ".join(f"{k}: {v}" for k, v in figures.items()) + f" | {machine} | {rev} |")
    print(line)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\n" + HEADER)
    with RESULTS.open("a") as fh:
        fh.write(line + "\n")


def record_section(title: str, text: str) -> None:
    """A dated section (e.g. one `make bench` run's summary) after the rows so far; the rows
    table is reopened below it, so later `record` lines stay a table."""
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n")
    with RESULTS.open("a") as fh:
        fh.write(f"\n## {title}\n\n{text.rstrip()}\n\n{HEADER}")
