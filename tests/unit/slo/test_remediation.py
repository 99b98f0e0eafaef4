"""Remediation rules on a real store: propose, confirm, reject, revert, cooldowns, automatic
reverts, overrides in the gateway snapshot, and the reroute stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from steward.config.models import ModelConfig, ProviderConfig, StewardConfig
from steward.gateway.context import Deployment, RequestContext
from steward.identity.records import Actor
from steward.identity.service import IdentityService
from steward.identity.snapshot import Snapshot, load_snapshot
from steward.identity.state import current_version
from steward.remediation import service
from steward.remediation.actions import ActionError
from steward.remediation.engine import Remediator
from steward.remediation.overrides import guard_profile, routing_skip, sampling_rate
from steward.remediation.stage import Reroute
from steward.slo.jobs import Jobs, action_context
from steward.store.models import App, AuditEvent
from steward.store.models_slo import RuntimeOverride
from tests.unit.slo.conftest import T0

NOW = T0 + timedelta(days=1)
PERSON = Actor("cli", "alice")


def _config(rules: list[dict[str, Any]], **extra: Any) -> StewardConfig:
    return StewardConfig.model_validate(
        {
            "providers": {"sim": {"kind": "sim"}},
            "models": [
                {"name": "chat", "provider": "sim", "fallbacks": ["backup"]},
                {"name": "backup", "provider": "sim"},
            ],
            "guard": {"profiles": {"strict": {"input": {"*": "block"}}}},
            "remediation": {"rules": rules},
            **extra,
        }
    )


def _remediator(
    sessions: sessionmaker[Session], config: StewardConfig, identity: bool = False
) -> Remediator:
    ident = IdentityService(sessions) if identity else None
    return Remediator(
        sessions, config.remediation.rules, config.slos, action_context(config, ident)
    )


UPSTREAM = {"kind": "upstream_error_rate", "model": "chat", "window": "5m", "minimum": 10}


def _failing(add_usage: Callable[..., None], at: datetime, n: int = 20) -> None:
    add_usage(at - timedelta(minutes=1), n=n, status=503)


def test_propose_confirm_revert(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    config = _config([{"name": "r1", "trigger": UPSTREAM, "action": {"kind": "reroute"}}])
    rem = _remediator(sessions, config)
    _failing(add_usage, NOW)
    notices = rem.run(NOW)
    assert [n[0] for n in notices] == ["remediation.proposed"]
    assert notices[0][1]["evidence"]["error_rate"] == 1.0
    assert rem.run(NOW + timedelta(seconds=30)) == []  # still open: nothing new
    (proposal,) = service.list_actions(sessions, "proposed")
    assert (proposal.action, proposal.target_id) == ("reroute", "chat")
    with sessions() as s:
        assert s.query(RuntimeOverride).count() == 0  # proposed, not applied
    version = _version(sessions)
    row, _ = service.confirm(sessions, proposal.id[:12], rem.ctx, PERSON, NOW)
    assert row.status == "applied" and row.decided_by == "cli:alice"
    with sessions() as s:
        snap = load_snapshot(s)
    assert routing_skip(snap, "chat") == 1 and _version(sessions) > version
    with pytest.raises(ActionError, match="only proposals"):
        service.confirm(sessions, proposal.id, rem.ctx, PERSON, NOW)
    service.revert(sessions, proposal.id, rem.ctx, PERSON, NOW, "false alarm")
    with sessions() as s:
        assert routing_skip(load_snapshot(s), "chat") == 0
        actions = [a.action for a in s.query(AuditEvent).order_by(AuditEvent.ts, AuditEvent.id)]
    assert set(actions) == {
        "remediation.proposed",
        "remediation.confirmed",
        "remediation.reverted",
    }


def _version(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return current_version(s)


def test_cooldown_and_expiry(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    rule = {"name": "r1", "trigger": UPSTREAM, "action": {"kind": "notify"}, "cooldown": "1h"}
    rem = _remediator(sessions, _config([rule]))
    _failing(add_usage, NOW)
    assert [n[0] for n in rem.run(NOW)] == ["remediation.proposed"]
    (proposal,) = service.list_actions(sessions, "proposed")
    service.reject(sessions, proposal.id, PERSON, NOW, "known issue")
    later = NOW + timedelta(minutes=20)
    _failing(add_usage, later)
    assert rem.run(later) == []  # rejected within the cooldown: not proposed again
    after = NOW + timedelta(hours=2)
    _failing(add_usage, after)
    assert [n[0] for n in rem.run(after)] == ["remediation.proposed"]
    # the condition clears before anyone confirms: the proposal expires
    assert [n[0] for n in rem.run(after + timedelta(minutes=10))] == ["remediation.expired"]


def test_auto_guard_profile_and_automatic_revert(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    IdentityService(sessions).create_app("support")
    with sessions() as s:
        app_id = s.query(App.id).filter_by(name="support").scalar()
    rule = {
        "name": "tighten",
        "mode": "auto",
        "revert": "auto",
        "clear_for": "10m",
        "trigger": UPSTREAM,
        "action": {"kind": "guard_profile", "app": "support", "profile": "strict"},
    }
    rem = _remediator(sessions, _config([rule]))
    _failing(add_usage, NOW)
    assert [n[0] for n in rem.run(NOW)] == ["remediation.applied"]
    with sessions() as s:
        assert guard_profile(load_snapshot(s), app_id) == "strict"
    assert rem.run(NOW + timedelta(minutes=6)) == []  # clear for 1 minute: noted, kept
    assert rem.run(NOW + timedelta(minutes=11)) == []  # clear for 6 minutes
    notices = rem.run(NOW + timedelta(minutes=17))  # clear for 12 minutes: reverted
    assert [n[0] for n in notices] == ["remediation.reverted"]
    with sessions() as s:
        assert guard_profile(load_snapshot(s), app_id) is None
        audit = s.query(AuditEvent).filter_by(action="remediation.applied").one()
    assert audit.actor_id == "remediation:tighten" and audit.target_id == app_id
    assert audit.details is not None and audit.details["evidence"]["errors"] == 20


def test_suspend_app_through_the_identity_service(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    app = IdentityService(sessions).create_app("bot")
    rule = {
        "name": "stop-bot",
        "mode": "auto",
        "trigger": {"kind": "upstream_error_rate", "window": "5m", "minimum": 10},
        "action": {"kind": "suspend", "app": "bot"},
    }
    rem = _remediator(sessions, _config([rule]), identity=True)
    _failing(add_usage, NOW)
    assert [n[0] for n in rem.run(NOW)] == ["remediation.applied"]
    with sessions() as s:
        assert s.get(App, app.id).suspended  # type: ignore[union-attr]
        kinds = {a.action for a in s.query(AuditEvent)}
    assert {"app.suspend", "remediation.applied"} <= kinds
    (row,) = service.list_actions(sessions, "applied")
    service.revert(sessions, row.id, rem.ctx, PERSON, NOW)
    with sessions() as s:
        assert not s.get(App, app.id).suspended  # type: ignore[union-attr]


def test_failed_action_is_audited(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    rule = {
        "name": "r",
        "mode": "auto",
        "trigger": {"kind": "upstream_error_rate", "model": "backup", "minimum": 10},
        "action": {"kind": "reroute"},
    }
    rem = _remediator(sessions, _config([rule]))
    _failing(add_usage, NOW, n=15)
    add_usage(NOW - timedelta(minutes=1), n=15, status=503, model="backup")
    notices = rem.run(NOW)
    assert [n[0] for n in notices] == ["remediation.failed"]
    assert "no fallback" in notices[0][1]["reason"]


def test_raise_sampling_override(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    rule = {
        "name": "look-closer",
        "mode": "auto",
        "trigger": UPSTREAM,
        "action": {"kind": "raise_sampling", "rate": 0.5},
    }
    rem = _remediator(sessions, _config([rule]))
    _failing(add_usage, NOW)
    rem.run(NOW)
    with sessions() as s:
        snap = load_snapshot(s)
    assert sampling_rate(snap, None, "chat") == 0.5
    assert sampling_rate(snap, None, "backup") is None


def test_config_references_are_checked() -> None:
    with pytest.raises(ValueError, match="slo 'nope' is not defined"):
        _config([{"name": "r", "trigger": {"kind": "slo_burn", "slo": "nope"},
                  "action": {"kind": "notify"}}])  # fmt: skip
    with pytest.raises(ValueError, match="no fallbacks"):
        _config([{"name": "r", "trigger": UPSTREAM,
                  "action": {"kind": "reroute", "model": "backup"}}])  # fmt: skip
    with pytest.raises(ValueError, match="guard profile 'lax'"):
        _config([{"name": "r", "trigger": UPSTREAM,
                  "action": {"kind": "guard_profile", "profile": "lax"}}])  # fmt: skip
    with pytest.raises(ValueError, match="does not take"):
        _config([{"name": "r", "trigger": {"kind": "drift", "slo": "x"},
                  "action": {"kind": "notify"}}])  # fmt: skip


class _Holder:
    def __init__(self, snap: Snapshot) -> None:
        self.current = snap


async def test_reroute_stage_skips_the_primary() -> None:
    provider = ProviderConfig(kind="sim")
    route = [
        Deployment(ModelConfig(name=n, provider="sim"), "sim", provider, None)  # type: ignore[arg-type]
        for n in ("chat", "backup")
    ]
    ctx = RequestContext("r1", "chat", "openai", 0.0, datetime.now(UTC), {}, model_alias="chat")
    ctx.route = list(route)
    plain = Snapshot.empty()
    await Reroute(_Holder(plain)).on_request(ctx)  # type: ignore[arg-type]
    assert [d.model.name for d in ctx.route] == ["chat", "backup"]
    rerouted = Snapshot(
        version=1, keys={}, sections={"routing_overrides": {"chat": {"skip": 1, "to": "backup"}}}
    )
    await Reroute(_Holder(rerouted)).on_request(ctx)  # type: ignore[arg-type]
    assert [d.model.name for d in ctx.route] == ["backup"]
    await Reroute(_Holder(rerouted)).on_request(ctx)  # type: ignore[arg-type]
    assert [d.model.name for d in ctx.route] == ["backup"]  # the last one always serves


def test_jobs_tick_records_its_run(sessions: sessionmaker[Session]) -> None:
    from steward.store.models_slo import SloRun

    jobs = Jobs(sessions, _config([]), holder="host:1")
    result = jobs.tick(NOW)
    assert result.summary["slos"] == 0
    with sessions() as s:
        run = s.query(SloRun).one()
    assert run.holder == "host:1"
