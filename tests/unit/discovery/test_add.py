"""`--add`: findings become unmanaged apps once, with an audit event each; running again adds
nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from steward.discovery import GatewayHosts, app_name, discover, load_catalog, purpose, read_lines
from steward.identity import Actor, IdentityService
from steward.store.models import AuditEvent

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"


def add_all(service: IdentityService) -> tuple[list[str], list[str]]:
    report = discover(
        read_lines(DATA / "squid-access.log"),
        "squid",
        load_catalog(),
        GatewayHosts(["steward.corp.example", "10.9.0.2"]),
    )
    added, existing = [], []
    for f in report.findings:
        app, created = service.register_discovered_app(
            app_name(f), purpose(f), {"service": f.service}, actor=Actor("cli", "tester")
        )
        (added if created else existing).append(app.name)
    return added, existing


def test_add_is_idempotent(service: IdentityService, engine: Engine) -> None:
    added, existing = add_all(service)
    assert len(added) == 6 and not existing
    apps = {a.name: a for a in service.list_apps()}
    app = apps["shadow-openai-10.1.4.22"]
    assert app.managed is False and app.owner is None and app.risk_tier is None
    assert app.purpose.startswith("discovered: 2 request(s) from 10.1.4.22 to OpenAI")

    again_added, again_existing = add_all(service)
    assert not again_added and sorted(again_existing) == sorted(added)
    assert len(service.list_apps()) == 6

    with engine.connect() as conn:
        rows = conn.execute(select(AuditEvent).where(AuditEvent.action == "app.discover")).all()
    assert len(rows) == 6
    assert {r.details["service"] for r in rows} >= {"openai", "chatgpt", "aws-bedrock"}


def test_existing_app_of_that_name_is_left_alone(service: IdentityService) -> None:
    service.create_app("shadow-openai-10.1.4.22", purpose="the data team's notebook")
    added, existing = add_all(service)
    assert "shadow-openai-10.1.4.22" in existing
    app = service.get_app("shadow-openai-10.1.4.22")
    assert app.managed is True and app.purpose == "the data team's notebook"
