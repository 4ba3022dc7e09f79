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
RESULTS = ROOT / "bench" / "RESULTS.md"


def setup_django(database_url: str | None) -> None:
    """Never the operator's database: a temp SQLite, or the URL given explicitly."""
    sys.path.insert(0, str(ROOT))
    var_dir = tempfile.mkdtemp(prefix="hub-bench-")
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    os.environ["HUB_VAR_DIR"] = var_dir
    os.environ["BENCH_REV"] = _rev()  # the code measured, even if the tree moves meanwhile
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


def _rev() -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,  # noqa: S607
                         text=True, check=False).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,  # noqa: S607
                           capture_output=True, text=True, check=False).stdout.strip()
    return rev + ("+uncommitted" if dirty else "")


def record(name: str, figures: dict[str, str]) -> None:
    rev = os.environ.get("BENCH_REV") or _rev()
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"
    line = (f"| {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} | {name} | "
            + ", ".join(f"{k}: {v}" for k, v in figures.items()) + f" | {machine} | {rev} |")
    print(line)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\n| date (UTC) | benchmark | figures | machine | rev |\n"
                           "|---|---|---|---|---|\n")
    with RESULTS.open("a") as fh:
        fh.write(line + "\n")
