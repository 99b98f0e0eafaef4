"""The identity service: principals, keys, admin keys, audit rows and state-version bumps."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from steward.identity import (
    Actor,
    Conflict,
    IdentityService,
    Invalid,
    NotFound,
    current_version,
    generate_key,
    hash_key,
    parse_duration,
)
from steward.identity.state import bump_version
from steward.store.models import ApiKey, AuditEvent


def _version(engine: Engine) -> int:
    with Session(engine) as s:
        return current_version(s)


def _audit_rows(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


@pytest.fixture
def org(service: IdentityService) -> IdentityService:
    """support (alice, carol), research (bob, carol); app helpdesk in support."""
    service.create_team("support")
    service.create_team("research")
    service.create_user("alice", "alice@example.com", ["support"])
    service.create_user("bob", teams=["research"])
    service.create_user("carol", teams=["support", "research"])
    service.create_app("helpdesk", team="support", owner="alice")
    return service


# -- key material ----------------------------------------------------------------------------


def test_generate_key_is_high_entropy_and_hashed_with_sha256() -> None:
    plaintext, digest, prefix = generate_key()
    assert plaintext.startswith("sk-stw-")
    assert len(plaintext) - len("sk-stw-") >= 43  # 32 bytes of token_urlsafe
    assert digest == hashlib.sha256(plaintext.encode()).hexdigest() == hash_key(plaintext)
    assert prefix.startswith("sk-stw-") and prefix.endswith("…")
    assert plaintext.startswith(prefix[:-1])
    assert len(prefix) <= 24
    assert generate_key()[0] != plaintext


def test_parse_duration() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    for bad in ("", "30", "d", "-1d", "0h", "3y"):
        with pytest.raises(Invalid):
            parse_duration(bad)


# -- transactions: change + audit + version --------------------------------------------------


def test_every_mutation_writes_an_audit_row_and_bumps_the_version(
    service: IdentityService, engine: Engine, actor: Actor
) -> None:
    assert _version(engine) == 0
    team = service.create_team("support", "Customer support", actor=actor)
    assert _version(engine) == 1
    rows = _audit_rows(engine)
    assert len(rows) == 1
    row = rows[0]
    assert (row.action, row.actor_type, row.actor_id, row.outcome) == (
        "team.create",
        "cli",
        "tester",
        "succeeded",
    )
    assert (row.target_type, row.target_id) == ("team", team.id)
    service.create_user("alice", teams=["support"], actor=actor)
    service.set_user_suspended("alice", True, actor=actor)
    assert _version(engine) == 3
    assert [r.action for r in _audit_rows(engine)] == ["team.create", "user.create", "user.suspend"]


def test_a_refused_change_writes_nothing(service: IdentityService, engine: Engine) -> None:
    service.create_team("support")
    before = (_version(engine), len(_audit_rows(engine)))
    with pytest.raises(Conflict):
        service.create_team("support")
    with pytest.raises(NotFound):
        service.create_user("alice", teams=["support", "nope"])
    assert (_version(engine), len(_audit_rows(engine))) == before
    assert service.list_users() == []


def test_bump_version_creates_the_row_and_counts_up(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        assert current_version(s) == 0
        assert bump_version(s) == 1
        assert bump_version(s) == 2
    assert _version(engine) == 2


# -- teams and users -------------------------------------------------------------------------


def test_team_lookup_by_name_or_id(service: IdentityService) -> None:
    team = service.create_team("support", "Customer support")
    assert service.get_team("support") == service.get_team(team.id)
    assert team.created_at.tzinfo is not None
    assert service.get_team("support").created_at.utcoffset() == timedelta(0)
    with pytest.raises(NotFound, match="team 'nope' does not exist"):
        service.get_team("nope")
    assert [t.name for t in service.list_teams()] == ["support"]


@pytest.mark.parametrize("name", ["", "  ", "has space", "-dash", "x" * 101, "a/b"])
def test_names_are_validated(service: IdentityService, name: str) -> None:
    with pytest.raises(Invalid, match="name"):
        service.create_team(name)


def test_user_with_teams_and_membership_changes(org: IdentityService) -> None:
    assert org.get_user("carol").teams == ["research", "support"]
    assert org.get_team("support").members == ["alice", "carol"]
    with pytest.raises(Conflict, match="already a member"):
        org.add_member("alice", "support")
    assert org.add_member("alice", "research").teams == ["research", "support"]
    assert org.remove_member("alice", "research").teams == ["support"]
    with pytest.raises(Invalid, match="not a member"):
        org.remove_member("alice", "research")
    assert [u.name for u in org.list_users(team="research")] == ["bob", "carol"]
    with pytest.raises(Invalid, match="e-mail"):
        org.create_user("dave", email="not-an-email")


def test_removing_a_member_revokes_their_keys_for_that_team(org: IdentityService) -> None:
    key, _ = org.create_key(user="carol", team="support")
    other, _ = org.create_key(user="carol", team="research")
    org.remove_member("carol", "support")
    assert org.get_key(key.id).status == "revoked"
    assert org.get_key(other.id).status == "active"


def test_delete_team_refused_while_in_use_unless_forced(org: IdentityService) -> None:
    key, _ = org.create_key(user="alice")
    with pytest.raises(Conflict, match="still in use") as exc:
        org.delete_team("support")
    assert "alice" in str(exc.value) and "helpdesk" in str(exc.value)
    org.delete_team("support", force=True)
    assert org.get_app("helpdesk").team is None
    assert org.get_user("alice").teams == []
    assert org.get_key(key.id).status == "revoked"
    empty = org.create_team("empty")
    assert org.delete_team("empty").id == empty.id
    with pytest.raises(NotFound):
        org.get_team("empty")


def test_delete_user_refused_while_owning_agents(org: IdentityService) -> None:
    org.create_agent("refund-bot", owner="alice")
    key, _ = org.create_key(user="alice")
    with pytest.raises(Conflict, match="owns agents refund-bot"):
        org.delete_user("alice")
    org.delete_agent("refund-bot")
    org.delete_user("alice")
    with pytest.raises(NotFound):
        org.get_key(key.id)
    assert org.get_app("helpdesk").owner is None


def test_suspending_a_user_is_audited_with_its_reason(
    org: IdentityService, engine: Engine, actor: Actor
) -> None:
    assert org.set_user_suspended("alice", True, "left the company", actor=actor).suspended
    row = _audit_rows(engine)[-1]
    assert (row.action, row.reason) == ("user.suspend", "left the company")
    assert not org.set_user_suspended("alice", False).suspended
    assert _audit_rows(engine)[-1].action == "user.unsuspend"


# -- apps, agents, service accounts ----------------------------------------------------------


def test_apps(org: IdentityService) -> None:
    app = org.get_app("helpdesk")
    assert (app.team, app.owner) == ("support", "alice")
    assert [a.name for a in org.list_apps(team="support")] == ["helpdesk"]
    assert org.list_apps(team="research") == []
    assert org.set_app_suspended("helpdesk", True).suspended
    with pytest.raises(NotFound, match="user 'nobody'"):
        org.create_app("other", owner="nobody")
    with pytest.raises(Conflict):
        org.create_app("helpdesk")


def test_agents_need_an_existing_owner_and_a_known_risk_tier(org: IdentityService) -> None:
    agent = org.create_agent(
        "refund-bot", owner="alice", team="support", purpose="refunds", risk_tier="high"
    )
    assert (agent.owner, agent.team, agent.risk_tier) == ("alice", "support", "high")
    with pytest.raises(NotFound, match="user 'ghost'"):
        org.create_agent("bot2", owner="ghost")
    with pytest.raises(Invalid, match="risk tier 'extreme'"):
        org.create_agent("bot3", owner="alice", risk_tier="extreme")
    assert [a.name for a in org.list_agents(owner="alice")] == ["refund-bot"]
    assert org.set_agent_suspended("refund-bot", True, "kill switch").suspended


def test_service_accounts(org: IdentityService) -> None:
    sa = org.create_service_account("nightly", team="research", description="batch")
    assert org.get_service_account(sa.id).team == "research"
    assert [s.name for s in org.list_service_accounts()] == ["nightly"]
    assert org.set_service_account_suspended("nightly", True).suspended
    org.delete_service_account("nightly")
    assert org.list_service_accounts() == []


# -- API keys --------------------------------------------------------------------------------


def test_user_key_defaults_to_the_users_only_team(org: IdentityService, engine: Engine) -> None:
    key, plaintext = org.create_key(
        user="alice", app="helpdesk", name="laptop", models=["sim-fast", " sim-smart ", "sim-fast"]
    )
    assert (key.principal_type, key.user, key.team, key.app) == (
        "user",
        "alice",
        "support",
        "helpdesk",
    )
    assert key.models == ["sim-fast", "sim-smart"]
    assert key.status == "active" and key.expires_at is None
    with Session(engine) as s:
        row = s.get(ApiKey, key.id)
        assert row is not None
        assert row.key_hash == hash_key(plaintext)
        assert plaintext not in (row.prefix, row.name, row.created_by)
    audit = _audit_rows(engine)[-1]
    assert audit.action == "key.create"
    assert plaintext not in str(audit.details)


def test_user_key_team_must_be_one_of_the_users_teams(org: IdentityService) -> None:
    with pytest.raises(Invalid, match="several teams"):
        org.create_key(user="carol")
    assert org.create_key(user="carol", team="research")[0].team == "research"
    with pytest.raises(Invalid, match="not a member of team 'research'"):
        org.create_key(user="alice", team="research")
    org.create_user("loner")
    assert org.create_key(user="loner")[0].team is None


def test_key_needs_exactly_one_principal_or_an_app_alone(org: IdentityService) -> None:
    org.create_service_account("nightly", team="research")
    org.create_agent("bot", owner="alice")
    with pytest.raises(Invalid, match="needs a principal"):
        org.create_key()
    with pytest.raises(Invalid, match="only one of"):
        org.create_key(user="alice", service_account="nightly")
    with pytest.raises(Invalid, match="only one of"):
        org.create_key(agent="bot", user="alice")
    app_key, _ = org.create_key(app="helpdesk")
    assert (app_key.principal_type, app_key.team, app_key.user) == ("app", "support", None)
    sa_key, _ = org.create_key(service_account="nightly")
    assert (sa_key.principal_type, sa_key.team) == ("service", "research")


def test_agent_keys_inherit_the_agents_team(org: IdentityService) -> None:
    org.create_agent("bot", owner="alice", team="support")
    key, _ = org.create_key(agent="bot")
    assert (key.principal_type, key.agent, key.team) == ("agent", "bot", "support")
    with pytest.raises(Invalid, match="belongs to team 'support'"):
        org.create_key(agent="bot", team="research")
    org.create_agent("banned", owner="alice", risk_tier="prohibited")
    with pytest.raises(Invalid, match="prohibited"):
        org.create_key(agent="banned")


def test_key_expiry(org: IdentityService) -> None:
    before = datetime.now(UTC)
    key, _ = org.create_key(user="alice", expires_in=timedelta(days=30))
    assert key.expires_at is not None and key.expires_at.tzinfo is not None
    assert before + timedelta(days=30) <= key.expires_at <= datetime.now(UTC) + timedelta(days=30)
    at = datetime.now(UTC) + timedelta(hours=1)
    assert org.create_key(user="alice", expires_at=at)[0].expires_at == at
    with pytest.raises(Invalid, match="past"):
        org.create_key(user="alice", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(Invalid, match="not both"):
        org.create_key(user="alice", expires_in=timedelta(days=1), expires_at=at)
    with pytest.raises(Invalid, match="model"):
        org.create_key(user="alice", models=[])


def test_expired_keys_show_as_expired(org: IdentityService, engine: Engine) -> None:
    key, _ = org.create_key(user="alice", expires_in=timedelta(days=1))
    with Session(engine) as s, s.begin():
        past = datetime.now(UTC) - timedelta(minutes=1)
        s.execute(update(ApiKey).where(ApiKey.id == key.id).values(expires_at=past))
    assert org.get_key(key.id).status == "expired"


def test_list_get_revoke_and_suspend_keys(org: IdentityService, actor: Actor) -> None:
    a, plaintext = org.create_key(user="alice", app="helpdesk")
    b, _ = org.create_key(user="bob")
    assert {k.id for k in org.list_keys()} == {a.id, b.id}
    assert [k.id for k in org.list_keys(user="alice")] == [a.id]
    assert [k.id for k in org.list_keys(team="research")] == [b.id]
    assert [k.id for k in org.list_keys(app="helpdesk")] == [a.id]
    assert org.get_key(a.prefix).id == a.id
    assert org.get_key(a.prefix.removesuffix("…")).id == a.id
    assert org.get_key(plaintext).id == a.id

    assert org.set_key_suspended(a.id, True, actor=actor).status == "suspended"
    assert org.set_key_suspended(a.id, False, actor=actor).status == "active"
    revoked = org.revoke_key(a.prefix, "leaked", actor=actor)
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    with pytest.raises(Conflict, match="already revoked"):
        org.revoke_key(a.id)
    with pytest.raises(Conflict, match="revoked"):
        org.set_key_suspended(a.id, True)
    assert [k.id for k in org.list_keys()] == [b.id]
    assert {k.id for k in org.list_keys(include_revoked=True)} == {a.id, b.id}
    with pytest.raises(NotFound, match="key 'sk-stw-nothing'"):
        org.revoke_key("sk-stw-nothing")


def test_deleting_a_principal_deletes_its_keys(org: IdentityService) -> None:
    key, _ = org.create_key(app="helpdesk")
    org.delete_app("helpdesk")
    assert org.list_keys(include_revoked=True) == []
    with pytest.raises(NotFound):
        org.get_key(key.id)


# -- admin keys ------------------------------------------------------------------------------


def test_admin_keys_roles_and_revocation(service: IdentityService) -> None:
    admin, admin_plain = service.create_admin_key("ops", "admin")
    auditor, auditor_plain = service.create_admin_key("audit", "auditor")
    assert service.verify_admin_key(admin_plain) == "admin"
    assert service.verify_admin_key(auditor_plain) == "auditor"
    assert service.verify_admin_key("sk-stw-adm-wrong") is None
    assert service.verify_admin_key("") is None
    with pytest.raises(Invalid, match="role 'root'"):
        service.create_admin_key("x", "root")
    with pytest.raises(Conflict, match="last active admin key"):
        service.revoke_admin_key(admin.id)
    service.revoke_admin_key(auditor.prefix)
    assert service.verify_admin_key(auditor_plain) is None
    assert [k.id for k in service.list_admin_keys()] == [admin.id]
    assert len(service.list_admin_keys(include_revoked=True)) == 2


def test_bootstrap_without_env_key_writes_a_0600_file_once(
    service: IdentityService, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    plaintext = service.ensure_bootstrap_admin(None, data_dir)
    assert plaintext is not None
    path = data_dir / "admin-key"
    assert path.read_text().strip() == plaintext
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert service.verify_admin_key(plaintext) == "admin"
    assert service.ensure_bootstrap_admin(None, data_dir) is None
    assert len(service.list_admin_keys()) == 1


def test_bootstrap_with_env_key_registers_it_as_admin(
    service: IdentityService, tmp_path: Path
) -> None:
    env_key = "correct-horse-battery-staple-42"
    assert service.ensure_bootstrap_admin(env_key, tmp_path) is None
    assert not (tmp_path / "admin-key").exists()
    assert service.verify_admin_key(env_key) == "admin"
    assert service.ensure_bootstrap_admin(env_key, tmp_path) is None
    assert len(service.list_admin_keys()) == 1
    with pytest.raises(Invalid, match="at least 16"):
        service.ensure_bootstrap_admin("short", tmp_path)


# -- audit -----------------------------------------------------------------------------------


def test_list_audit_filters(org: IdentityService, actor: Actor) -> None:
    org.create_key(user="alice", actor=actor)
    entries = org.list_audit()
    assert entries[0].action == "key.create" and entries[0].actor_id == "tester"
    assert all(e.ts.tzinfo is not None for e in entries)
    assert [e.action for e in org.list_audit(action="team.create")] == ["team.create"] * 2
    assert {e.action for e in org.list_audit(action="user.*")} == {"user.create"}
    assert len(org.list_audit(limit=2)) == 2
    assert org.list_audit(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    with pytest.raises(Invalid, match="limit"):
        org.list_audit(limit=0)
    org.record_audit(Actor("admin", "unknown"), "admin.auth", outcome="denied", reason="bad key")
    denied = org.list_audit(action="admin.auth")[0]
    assert (denied.outcome, denied.reason) == ("denied", "bad key")
