"""Policy test files: YAML files of requests and the decision each must get, run against a
directory's policies with the real engine (`steward policy test DIR`).

    world:                      # the organisation the cases run in
      teams: [support]
      users: {alice: {teams: [support]}}
      agents: {support-bot: {owner: alice, team: support, risk_tier: limited}}
      apps: {helpdesk: {team: support}}
    cases:
      - name: small refunds go through
        principal: agent:support-bot
        action: call_tool
        resource: billing.refund
        server: billing
        arguments: {amount: 80}
        expect: allow            # allow | deny | approval | shadow-deny
        policies: [refunds/small-refunds]   # optional: the determining policies
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from steward.policy.data import AgentInfo, AppInfo, PolicyData, ServiceInfo, UserInfo
from steward.policy.engine import Decision, PolicyEngine
from steward.policy.entities import ModelInfo
from steward.policy.requests import RequestError, RequestSpec, decide
from steward.policy.sets import PolicySource
from steward.policy.settings import PolicySettings

EXPECTATIONS = ("allow", "deny", "approval", "shadow-deny")


class CaseFileError(ValueError):
    """A test file that cannot be read or has a malformed case."""


@dataclass(frozen=True)
class CaseResult:
    file: str
    name: str
    passed: bool
    expected: str
    got: str
    decision: Decision | None
    message: str = ""


def outcome(d: Decision) -> str:
    """The expectation a decision satisfies."""
    if d.verdict == "deny":
        return "shadow-deny" if d.allowed else "deny"
    return "approval" if d.approval else "allow"


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise CaseFileError(f"{where} must be a mapping")
    return raw


def world(raw: dict[str, Any]) -> PolicyData:
    """PolicyData from a test file's `world` (names double as ids)."""
    teams = raw.get("teams") or []
    if not isinstance(teams, list):
        raise CaseFileError("world.teams must be a list of names")
    try:
        users = {
            n: UserInfo(n, tuple(v.get("teams", ())), v.get("email"))
            for n, v in _mapping(raw.get("users"), "world.users").items()
            for v in [v or {}]
        }
        agents = {
            n: AgentInfo(
                name=n,
                owner=v["owner"],
                sponsor=v.get("sponsor"),
                team=v.get("team"),
                status=v.get("status", "active"),
                risk_tier=v.get("risk_tier", "limited"),
                purpose=v.get("purpose", ""),
                data_classes=tuple(v.get("data_classes", ())),
            )
            for n, v in _mapping(raw.get("agents"), "world.agents").items()
        }
        apps = {
            n: AppInfo(
                name=n,
                team=v.get("team"),
                owner=v.get("owner"),
                risk_tier=v.get("risk_tier"),
                data_classes=tuple(v.get("data_classes", ())),
            )
            for n, v in _mapping(raw.get("apps"), "world.apps").items()
            for v in [v or {}]
        }
        services = {
            n: ServiceInfo(n, (v or {}).get("team"))
            for n, v in _mapping(raw.get("services"), "world.services").items()
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise CaseFileError(f"world is malformed ({exc}); see docs/policies.md") from exc
    return PolicyData(
        teams={str(t): str(t) for t in teams},
        users=users,
        apps=apps,
        agents=agents,
        services=services,
    )


def _models(raw: Any, default: Sequence[ModelInfo]) -> list[ModelInfo]:
    if raw is None:
        return list(default)
    items = _mapping(raw, "models")
    return [
        ModelInfo(
            name=n,
            provider=(v or {}).get("provider", "sim"),
            risk_tier=(v or {}).get("risk_tier"),
            data_classes=tuple((v or {}).get("data_classes", ())),
            groups=tuple((v or {}).get("groups", ())),
        )
        for n, v in items.items()
    ]


def _check(case: dict[str, Any], d: Decision) -> tuple[bool, str]:
    expected = case["expect"]
    got = outcome(d)
    if got != expected:
        return False, f"expected {expected}, got {got}: {d.reason}"
    want = case.get("policies")
    if want is not None and sorted(want) != sorted(d.policies):
        return False, f"expected policies {sorted(want)}, got {sorted(d.policies)}"
    return True, ""


def run_file(
    path: Path,
    settings: PolicySettings,
    sets: Sequence[PolicySource],
    models: Sequence[ModelInfo] = (),
) -> list[CaseResult]:
    """Run every case of one test file against `sets`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CaseFileError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise CaseFileError(f"{path}: expected a mapping with a 'cases' list")
    try:
        # the directory's sets as files: an invalid one raises PolicyError, never skipped
        engine = PolicyEngine(settings, _models(raw.get("models"), models), sets)
        engine.load(PolicyData(**_fields(world(_mapping(raw.get("world"), "world")))))
    except CaseFileError as exc:
        raise CaseFileError(f"{path}: {exc}") from exc
    out = []
    for i, case in enumerate(raw["cases"]):
        name = (
            str(case.get("name") or f"case {i + 1}") if isinstance(case, dict) else f"case {i + 1}"
        )
        out.append(_run_case(path, name, case, engine))
    return out


def _fields(data: PolicyData) -> dict[str, Any]:
    return {
        "teams": data.teams,
        "users": data.users,
        "apps": data.apps,
        "agents": data.agents,
        "services": data.services,
    }


def _run_case(path: Path, name: str, case: Any, engine: PolicyEngine) -> CaseResult:
    expected = case.get("expect") if isinstance(case, dict) else None
    if expected not in EXPECTATIONS:
        msg = f"'expect' must be one of {', '.join(EXPECTATIONS)}"
        return CaseResult(str(path), name, False, str(expected), "error", None, msg)
    try:
        d = decide(engine, RequestSpec.from_dict(case))
    except RequestError as exc:
        return CaseResult(str(path), name, False, expected, "error", None, str(exc))
    ok, msg = _check(case, d)
    return CaseResult(str(path), name, ok, expected, outcome(d), d, msg)


def find_test_files(directory: Path) -> list[Path]:
    """The test files of a policy directory: `tests/*.yaml` beside the policies."""
    root = directory / "tests"
    return sorted([*root.glob("*.yaml"), *root.glob("*.yml")]) if root.is_dir() else []


__all__ = [
    "EXPECTATIONS",
    "CaseResult",
    "CaseFileError",
    "outcome",
    "run_file",
    "find_test_files",
    "world",
]
