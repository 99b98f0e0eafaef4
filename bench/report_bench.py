"""Usage-report benchmark: rollups for 10 million usage events, then typical reports.

1. Build: synthetic usage events (realistic cardinalities, 30 days up to now) in batches go
   through `steward.usage.rollup.apply`, the very function the event shipper calls in its
   insert transaction. By default the raw usage_events rows are NOT inserted (the reports never
   read them; building them would only add time): the output says so. `--raw` inserts them
   too, through the shipper's statement (INSERT ... ON CONFLICT DO NOTHING RETURNING id), and
   aggregates the returned rows, exactly like the shipper.
2. Reports: each timed `--runs` times (default 5), median reported, through the same service
   the CLI and admin API use.
3. Shipping cost (`--ship N`, default 100,000): the real Shipper moves N spooled events into a
   fresh store with and without the rollup hook; events per second for both.

    .venv/bin/python bench/report_bench.py                      # 10M events, SQLite
    .venv/bin/python bench/report_bench.py --events 1000000 --ship 0
    .venv/bin/python bench/report_bench.py --database-url postgresql://postgres@127.0.0.1/bench

Writes bench/results/report.json (git-ignored) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from steward.events import Shipper, Spool
from steward.events.ids import new_id
from steward.events.sink import usage_record
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import App, Team, UsageEvent, User, usage_label_rollups, usage_rollups
from steward.usage import rollup
from steward.usage.periods import floor_hour, floor_month
from steward.usage.service import UsageReports

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "report.json"
TARGET_S = 1.0

# model alias -> (provider, upstream model, USD per Mtok in, out; None: no price)
MODELS: dict[str, tuple[str, str, float | None, float]] = {
    "gpt-4o": ("openai", "gpt-4o-2024-08-06", 2.5, 10.0),
    "gpt-4o-mini": ("openai", "gpt-4o-mini", 0.15, 0.6),
    "o3-mini": ("openai", "o3-mini", 1.1, 4.4),
    "gpt-4.1": ("openai", "gpt-4.1", 2.0, 8.0),
    "claude-sonnet": ("anthropic", "claude-sonnet-4-5", 3.0, 15.0),
    "claude-haiku": ("anthropic", "claude-haiku-4-5", 1.0, 5.0),
    "claude-opus": ("anthropic", "claude-opus-4-1", 15.0, 75.0),
    "gemini-flash": ("vertex", "gemini-2.5-flash", 0.3, 2.5),
    "gemini-pro": ("vertex", "gemini-2.5-pro", 1.25, 10.0),
    "mistral-large": ("mistral", "mistral-large-2411", 2.0, 6.0),
    "llama-70b": ("vllm", "llama-3.3-70b-instruct", None, 0.0),  # self-hosted, unpriced
    "embed-small": ("openai", "text-embedding-3-small", 0.02, 0.0),
}


class Org:
    """20 teams, 500 users, 50 apps, 30 keys per team (600): 25 user keys, 3 app keys and 2
    agent keys per team; apps carry end users (2,000 per app)."""

    def __init__(self, rnd: random.Random) -> None:
        self.teams = [f"team_{t:02d}" for t in range(20)]
        self.keys: list[dict[str, Any]] = []
        models = list(MODELS)
        for t, team in enumerate(self.teams):
            apps = [f"app_{a:02d}" for a in range(50) if a % 20 == t] or [f"app_{t:02d}"]
            for k in range(30):
                if k < 25:
                    kind = {"user_id": f"user_{t * 25 + k:03d}", "app_id": None, "agent_id": None}
                elif k < 28:
                    kind = {"user_id": None, "app_id": apps[k % len(apps)], "agent_id": None}
                else:
                    owner = f"user_{t * 25 + k % 25:03d}"
                    kind = {"user_id": owner, "app_id": None, "agent_id": f"agent_{t}_{k}"}
                uses = rnd.sample(models, rnd.choice((1, 2, 2, 3)))
                self.keys.append(
                    {
                        "key_id": f"key_{t:02d}_{k:02d}",
                        "team_id": team,
                        "models": uses,
                        "weights": [rnd.random() + 0.2 for _ in uses],
                        **kind,
                    }
                )
        # apps and agents are busier than people: weight keys accordingly
        self.key_weights = [
            8.0 if k["app_id"] else 3.0 if k["agent_id"] else 1.0 for k in self.keys
        ]


def events(
    n: int, batch: int, end: datetime, seed: int, span_s: float = 30 * 86400
) -> Iterator[list[dict[str, Any]]]:
    """Synthetic usage_events rows (as the shipper hands them over), in batches. Events arrive
    in time order, as they do at the shipper: batch i holds the i-th slice of the `span_s`
    seconds before `end` (30 days)."""
    rnd = random.Random(seed)
    org = Org(rnd)
    start_s = end.timestamp() - span_s
    span = span_s
    features = [f"feature-{i}" for i in range(20)]
    made = 0
    while made < n:
        size = min(batch, n - made)
        keys = rnd.choices(org.keys, weights=org.key_weights, k=size)
        lo = start_s + span * made / n
        width = span * size / n
        stamps = sorted(lo + rnd.random() * width for _ in range(size))
        rows = []
        for key, stamp in zip(keys, stamps, strict=True):
            model = rnd.choices(key["models"], weights=key["weights"])[0]
            provider, upstream, pin, pout = MODELS[model]
            tin = int(rnd.lognormvariate(6.5, 1.0))
            tout = 0 if model.startswith("embed") else int(rnd.lognormvariate(5.0, 0.9))
            roll = rnd.random()
            status = 200 if roll > 0.025 else (429 if roll > 0.01 else 502)
            blocked = roll < 0.004
            if blocked:
                status, tin, tout = 400, 0, 0
            cost = None
            if pin is not None and status < 400:
                cost = Decimal(round((tin * pin + tout * pout), 4)) / 1_000_000
            tags: dict[str, str] | None = None
            if rnd.random() < 0.6:
                tags = {"env": "prod" if rnd.random() < 0.8 else "staging"}
                if rnd.random() < 0.5:
                    tags["feature"] = rnd.choice(features)
            app = key["app_id"]
            rows.append(
                {
                    "id": new_id(),
                    "ts": datetime.fromtimestamp(stamp, UTC),
                    "request_id": "req_bench",
                    "endpoint": "chat",
                    "key_id": key["key_id"],
                    "user_id": key["user_id"],
                    "team_id": key["team_id"],
                    "app_id": app,
                    "agent_id": key["agent_id"],
                    "service_account_id": None,
                    "model": model,
                    "provider": provider,
                    "upstream_model": upstream,
                    "input_tokens": tin,
                    "output_tokens": tout,
                    "cached_tokens": tin // 3 if rnd.random() < 0.3 else 0,
                    "cache_write_tokens": 0,
                    "reasoning_tokens": tout // 2 if model == "o3-mini" else 0,
                    "cost_usd": cost,
                    "latency_ms": rnd.lognormvariate(6.8, 0.7),
                    "status": status,
                    "error_type": "content_policy_violation" if blocked else None,
                    "guard_action": "block" if blocked else None,
                    "tags": tags,
                    "end_user": f"{app}-cust-{int(rnd.paretovariate(1.2)) % 2000}" if app else None,
                }
            )
        made += size
        yield rows


def _raw_insert(engine: Engine) -> Any:
    table = UsageEvent.__table__
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)


def build(engine: Engine, args: argparse.Namespace, end: datetime) -> dict[str, Any]:
    stmt = _raw_insert(engine) if args.raw else None
    t0 = time.perf_counter()
    done = 0
    for rows in events(args.events, args.batch, end, args.seed):
        with engine.begin() as conn:
            if stmt is not None:
                added = set(conn.scalars(stmt, rows))
                rows = [r for r in rows if r["id"] in added]
            rollup.apply(conn, rows)  # the shipper's hook
        done += len(rows)
        elapsed = time.perf_counter() - t0
        if done % (args.batch * 10) == 0 or done == args.events:
            rate = done / elapsed
            print(f"  {done:>12,} events  {elapsed:7.1f} s  {rate:9,.0f} events/s", flush=True)
    build_s = time.perf_counter() - t0
    with engine.connect() as conn:
        counts = {
            t.name: {
                grain: int(
                    conn.scalar(select(func.count()).select_from(t).where(t.c.grain == grain)) or 0
                )
                for grain in ("hour", "day", "month")
            }
            for t in (usage_rollups, usage_label_rollups)
        }
    return {
        "events": done,
        "build_s": build_s,
        "raw_events_inserted": bool(args.raw),
        "rows": counts,
    }


def time_reports(svc: UsageReports, runs: int, end: datetime) -> list[dict[str, Any]]:
    since = end - timedelta(days=30)
    month = floor_month(end - timedelta(days=10)).strftime("%Y-%m")
    cases: list[tuple[str, Callable[[], int]]] = [
        ("by team, 30d", lambda: len(svc.report(["team"], since))),
        (
            "by team,model per day, 30d",
            lambda: len(svc.report(["team", "model"], since, None, "day")),
        ),
        ("by user, top 10, 30d", lambda: len(svc.report(["user"], since, limit=10))),
        ("by app,agent,key, 30d", lambda: len(svc.report(["app", "agent", "key"], since))),
        (
            "by model per hour, 7d",
            lambda: len(svc.report(["model"], end - timedelta(days=7), None, "hour")),
        ),
        (f"chargeback {month} by team", lambda: len(svc.chargeback(month, ["team"]).lines)),
        ("by tag:feature, 30d", lambda: len(svc.report(["tag:feature"], since))),
        ("by end_user, top 10, 30d", lambda: len(svc.report(["end_user"], since, limit=10))),
        ("self usage (one key)", lambda: svc.key_usage("key_03_26", end)[1].requests),
    ]
    out = []
    for name, fn in cases:
        times, result = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        out.append(
            {
                "report": name,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "result_rows": result,
            }
        )
        print(f"  {name:<32} median {statistics.median(times) * 1000:8.1f} ms", flush=True)
    return out


async def _ship(url: str, spool_dir: Path, rows: list[dict[str, Any]], hooks: bool) -> float:
    spool = Spool(spool_dir, sync="write")
    await spool.start()
    for i in range(0, len(rows), 1000):
        await spool.append([usage_record(r) for r in rows[i : i + 1000]])
    await spool.close()
    engine = make_engine(url)
    shipper = Shipper(spool_dir, engine, batch=2000, after_insert=None if hooks else {})
    t0 = time.perf_counter()
    assert await shipper.flush(600)
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed


def shipping(n: int, work: Path, seed: int, end: datetime) -> dict[str, Any]:
    # live traffic at 2,000 requests/s: what one gateway's shipper sees, batch after batch
    rows = [r for batch in events(n, n, end, seed + 1, span_s=n / 2000) for r in batch]
    for r in rows:  # as the gateway writes them to the spool (JSON)
        r["ts"] = r["ts"].isoformat()
        r["cost_usd"] = None if r["cost_usd"] is None else str(r["cost_usd"])
    out: dict[str, Any] = {"events": n}
    for hooks in (False, True):
        name = "with_rollups" if hooks else "without_rollups"
        url = f"sqlite:///{work / f'ship-{name}.db'}"
        upgrade(url)
        elapsed = asyncio.run(_ship(url, work / f"spool-{name}", rows, hooks))
        out[name] = {"seconds": elapsed, "events_per_s": n / elapsed}
        print(f"  shipping {name:<16} {n / elapsed:10,.0f} events/s", flush=True)
    return out


def _names(url: str) -> None:
    """Teams, users and apps with names, so reports resolve names as they do in production
    (written directly: through the identity service each would be an audited change)."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_factory(engine)() as s, s.begin():
        s.add_all(Team(id=f"team_{t:02d}", name=f"team-{t:02d}", created_at=now) for t in range(20))
        s.add_all(
            User(id=f"user_{u:03d}", name=f"user-{u:03d}", created_at=now) for u in range(500)
        )
        s.flush()
        s.add_all(
            App(
                id=f"app_{a:02d}", name=f"app-{a:02d}", team_id=f"team_{a % 20:02d}", created_at=now
            )
            for a in range(50)
        )
    engine.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--batch", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--raw", action="store_true", help="also insert the raw usage_events rows")
    p.add_argument(
        "--ship", type=int, default=100_000, help="events for the shipping run (0: skip)"
    )
    p.add_argument("--database-url", help="default: SQLite in a temporary directory")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="steward-report-bench-"))
    url = args.database_url or f"sqlite:///{work / 'steward.db'}"
    end = floor_hour(datetime.now(UTC))
    print(f"work directory {work}; store {url.split('@')[-1]}")
    upgrade(url)
    _names(url)
    engine = make_engine(url)
    raw_note = (
        "raw usage_events inserted too"
        if args.raw
        else ("raw usage_events NOT inserted: rollups only (reports never read raw events)")
    )
    print(f"build: {args.events:,} events in batches of {args.batch:,} ({raw_note})")
    built = build(engine, args, end)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE usage_rollups"))
            conn.execute(text("ANALYZE usage_label_rollups"))
    db_bytes = None
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        db_bytes = (work / "steward.db").stat().st_size
    print(f"reports: median of {args.runs} runs each")
    svc = UsageReports(session_factory(engine), "bench-org")
    reports = time_reports(svc, args.runs, end)
    engine.dispose()
    ship = shipping(args.ship, work, args.seed, end) if args.ship else None

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
        },
        "store": "postgresql" if url.startswith("postgres") else "sqlite",
        "build": {**built, "db_bytes": db_bytes, "note": raw_note},
        "reports": reports,
        "shipping": ship,
        "target_s": TARGET_S,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)
    if not args.keep:
        for f in sorted(work.rglob("*"), reverse=True):
            f.rmdir() if f.is_dir() else f.unlink()
        work.rmdir()
    return 0 if all(r["median_s"] < TARGET_S for r in reports) else 3


def _print(r: dict[str, Any]) -> None:
    b = r["build"]
    rows = b["rows"]
    print()
    print(f"store: {r['store']}; {b['events']:,} events; {b['note']}")
    print(
        f"build: {b['build_s']:.1f} s ({b['events'] / b['build_s']:,.0f} events/s)"
        + (f"; database {b['db_bytes'] / 1e6:,.0f} MB" if b["db_bytes"] else "")
    )
    for table, grains in rows.items():
        total = sum(grains.values())
        parts = ", ".join(f"{g} {n:,}" for g, n in grains.items())
        print(f"rows in {table}: {total:,} ({parts})")
    print()
    print(f"{'report':<34}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'rows':>8}  target")
    print("-" * 80)
    for rep in r["reports"]:
        ok = "PASS" if rep["median_s"] < r["target_s"] else "MISS"
        print(
            f"{rep['report']:<34}{rep['median_s'] * 1000:>10.1f}{rep['min_s'] * 1000:>9.1f}"
            f"{rep['max_s'] * 1000:>9.1f}{rep['result_rows']:>8}  < {r['target_s']:.0f} s {ok}"
        )
    if r["shipping"]:
        s = r["shipping"]
        w, wo = s["with_rollups"]["events_per_s"], s["without_rollups"]["events_per_s"]
        print()
        print(
            f"shipping {s['events']:,} spooled events (real Shipper, SQLite): "
            f"{wo:,.0f} events/s without rollups, {w:,.0f} with ({w / wo:.2f}x)"
        )


if __name__ == "__main__":
    sys.exit(main())
