"""The demo's shadow-AI step: discovery over the bundled egress-proxy log (squid format), the
findings added to the inventory as unmanaged apps, and the inventory's flags from the admin API."""

from __future__ import annotations

from collections import Counter
from importlib import resources

import httpx
from rich.console import Console
from rich.table import Table

from steward.discovery import GatewayHosts, app_name, discover, load_catalog, purpose
from steward.identity import Actor, IdentityService
from steward.store.db import make_engine, session_factory

SAMPLE = "egress-sample.log"
# in the sample, clients reach Steward at steward.demo.internal; Steward itself egresses from .10
GATEWAY = ("steward.demo.internal", "10.20.0.10")


def print_shadow_ai(console: Console, db_url: str, admin: httpx.Client) -> None:
    text = resources.files("steward.demo").joinpath(f"data/{SAMPLE}").read_text("utf-8")
    report = discover(
        text.splitlines(keepends=True),
        "squid",
        load_catalog(),
        GatewayHosts(GATEWAY),
        log_name=SAMPLE,
    )
    table = Table(
        title=f"Shadow AI in {SAMPLE} (traffic to AI services that bypassed Steward)",
        title_justify="left",
    )
    for col in ("source", "service", "destinations", "requests", "bytes"):
        table.add_column(col, justify="right" if col in ("requests", "bytes") else "left")
    for f in report.findings:
        table.add_row(f.source, f.service, ", ".join(f.destinations), str(f.requests), str(f.bytes))
    console.print(table)
    console.print(
        f"{report.records} requests read: {report.to_gateway + report.from_gateway} through "
        f"Steward (excluded), {report.malformed} malformed line(s) skipped"
    )
    engine = make_engine(db_url)
    try:
        identity = IdentityService(session_factory(engine))
        actor = Actor("system", "demo")
        added = sum(
            identity.register_discovered_app(
                app_name(f), purpose(f), {"service": f.service, "log": SAMPLE}, actor=actor
            )[1]
            for f in report.findings
        )
    finally:
        engine.dispose()
    r = admin.get("/inventory", params={"flags_only": "true"})
    r.raise_for_status()
    codes = Counter(flag["code"] for flag in r.json()["flags"])
    console.print(
        f"  [green]✓[/] {added} finding(s) added to the inventory as unmanaged apps; "
        "inventory flags: " + ", ".join(f"{code} ×{n}" for code, n in sorted(codes.items()))
    )
