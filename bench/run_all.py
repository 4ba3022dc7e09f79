"""`make bench`: every benchmark, each in its own process, at sizes that fit about half an hour
on 2 cores; then ONE table of this run's headline figures (CRM sync efficiency, Lime backfill,
mass accrual, birthday selection, webhook intake, end-to-end latency…), printed and appended
to RESULTS.md as a dated section. The full rows stay in the results table as each script
records them.

    python bench/run_all.py [--only e2e_latency,crm_sync] [--database-url …] [--summary-only]

``--database-url`` is passed to every script (all take one): a throwaway database they share,
one after the other. ``--summary-only`` runs nothing: it prints the table from the newest
row of each benchmark already in RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, record_section, revision

BENCH = Path(__file__).resolve().parent

# (script, arguments, why these sizes) in run order: quick ones first.
SCRIPTS: list[tuple[str, list[str], str]] = [
    ("outbox_drain", [], "default size"),
    ("crm_sync", [], "default size: 10,000 contacts, limits ×10"),
    ("webhook_intake", [], "default size"),
    ("e2e_latency", [], "default size: 20 passes per poll interval"),
    ("bonuses", [], "default size: 100,000 accrued, 1,000,000 for birthdays"),
    ("birthday_mailing", [], "default size: 1,000,000 contacts"),
    ("lime_backfill", ["--clients", "5000", "--checks", "15000", "--passes", "30000"],
     "half the default venue: the full one takes ~15 min on 2 cores (the emulator's start-up alone grows "
     "with the square of the venue); records/s and flat memory show at this size"),
]

# Headline figures per benchmark (by the start of its name); a benchmark not listed shows all.
HEADLINES: list[tuple[str, list[str]]] = [
    ("outbox drain", ["rows", "rows/s"]),
    ("CRM initial sync", ["contacts", "entities/request", "rate used", "wall s", "wall/floor", "429/503"]),
    ("Lime backfill", ["records", "records/s", "peak RSS MB", "RSS growth over 2nd half MB"]),
    ("mass accrual", ["contacts", "contacts/s", "set-based ÷ loop", "re-run s (grants 0)"]),
    ("birthday selection", ["contacts", "select s", "select ÷ loop", "loop agrees"]),
    ("birthday campaign", ["contacts", "queued", "run s", "messages queued/s", "same-day re-run s (new)"]),
    ("webhook intake", ["req/s", "events/s", "p50 ms", "p99 ms", "of ceiling", "durable == 2xx"]),
    ("end-to-end latency", ["deals", "p50 s", "p95 s", "max s", "pulls every s (measured)"]),
]

ROW = re.compile(r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d) \| (.+?) \| (.*) \| (.+?) \| (\S+) \|$")
PAIR = re.compile(r", (?=[^,:]+: )")  # a comma that starts the next "key: value" (values may hold commas)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated script names, e.g. e2e_latency,crm_sync")
    parser.add_argument("--database-url", help="a throwaway database every script uses in turn")
    parser.add_argument("--summary-only", action="store_true",
                        help="run nothing: the table of the newest row of each benchmark in RESULTS.md")
    args = parser.parse_args()
    if args.summary_only:
        print(summary(latest_rows(RESULTS.read_text().splitlines())))
        return
    chosen = [s for s in SCRIPTS if not args.only or s[0] in args.only.split(",")]
    unknown = set(args.only.split(",")) - {s[0] for s in SCRIPTS} if args.only else set()
    if unknown or not chosen:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown)) or args.only}; "
                         f"known: {', '.join(s[0] for s in SCRIPTS)}")
    started, rows, outcomes = time.monotonic(), [], []
    for name, script_args, why in chosen:
        command = [sys.executable, str(BENCH / f"{name}.py"), *script_args]
        if args.database_url:
            command += ["--database-url", args.database_url]
        print(f"\n=== {name} {' '.join(script_args)}  ({why})", flush=True)
        began = time.monotonic()
        code, printed = run(command)
        rows += [line for line in printed if ROW.match(line)]
        outcomes.append((name, code, time.monotonic() - began))
    minutes = (time.monotonic() - started) / 60
    failed = [f"{name} (exit {code})" for name, code, _ in outcomes if code]
    table = summary(rows)
    took = ", ".join(f"{name} {seconds:.0f} s" for name, _, seconds in outcomes)
    notes = f"Took {minutes:.1f} min: {took}." + (f" FAILED: {', '.join(failed)}." if failed else "")
    print(f"\n{table}\n\n{notes}")
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu"
    record_section(f"make bench, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC ({machine}, rev {revision()})",
                   f"{table}\n\n{notes}")
    if failed:
        raise SystemExit(1)


def run(command: list[str]) -> tuple[int, list[str]]:
    """Run one script, its output shown as it comes; returns its exit code and stdout lines
    (the rows it recorded are among them: exactly this run's, whoever else appends)."""
    proc = subprocess.Popen(command, cwd=BENCH, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    return proc.wait(), lines


def latest_rows(lines: list[str]) -> list[str]:
    """The newest row of each benchmark, in the order they were first recorded."""
    newest: dict[str, str] = {}
    for line in lines:
        match = ROW.match(line)
        if match:
            newest.pop(match.group(2), None)
            newest[match.group(2)] = line
    return sorted(newest.values(), key=lambda line: ROW.match(line).group(1))


def headline(name: str, figures: str) -> str:
    pairs = dict(pair.split(": ", 1) for pair in PAIR.split(figures) if ": " in pair)
    keys = next((keys for prefix, keys in HEADLINES if name.startswith(prefix)), None)
    shown = [k for k in keys or [] if k in pairs] or list(pairs)
    if "db" in pairs and "db" not in shown:
        shown.append("db")
    return ", ".join(f"{k}: {pairs[k]}" for k in shown)


def summary(rows: list[str]) -> str:
    """One Markdown table: benchmark, headline figures, when, which code."""
    lines = ["| benchmark | figures | date (UTC) | rev |", "|---|---|---|---|"]
    for row in rows:
        date, name, figures, _machine, rev = ROW.match(row).groups()
        lines.append(f"| {name} | {headline(name, figures)} | {date} | {rev} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
