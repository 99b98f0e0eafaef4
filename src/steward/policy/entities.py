"""Cedar entities built once per snapshot: teams, users, apps, agents and service accounts from
the store; models and model groups from the configuration; the data classes. Tools are not
known in advance: each tool seen is added to the base once and the result cached."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from steward.policy.data import PolicyData

DATA_CLASSES: tuple[str, ...] = (
    "public",
    "internal",
    "confidential",
    "pii",
    "financial",
    "health",
    "secret",
)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What policies may read about a model alias (from the configuration)."""

    name: str
    provider: str
    kind: str = "chat"
    risk_tier: str | None = None
    data_classes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


def uid(kind: str, name: str) -> dict[str, str]:
    return {"type": kind, "id": name}


def ref(kind: str, name: str) -> dict[str, Any]:
    """An entity reference as an attribute or context value."""
    return {"__entity": {"type": kind, "id": name}}


def _entity(
    kind: str, name: str, attrs: dict[str, Any], parents: Iterable[tuple[str, str]] = ()
) -> dict[str, Any]:
    return {
        "uid": uid(kind, name),
        "attrs": attrs,
        "parents": [uid(k, n) for k, n in parents],
    }


def _classes(values: Iterable[str]) -> list[dict[str, Any]]:
    return [ref("DataClass", c) for c in values]


def _people(data: PolicyData, out: list[dict[str, Any]]) -> None:
    for name in data.teams.values():
        out.append(_entity("Team", name, {"name": name}))
    for user_id, u in data.users.items():
        attrs: dict[str, Any] = {"name": u.name, "id": user_id, "suspended": u.suspended}
        if u.email:
            attrs["email"] = u.email
        out.append(_entity("User", u.name, attrs, (("Team", t) for t in u.teams)))
    for app_id, a in data.apps.items():
        attrs = {
            "name": a.name,
            "id": app_id,
            "suspended": a.suspended,
            "data_classes": _classes(a.data_classes),
        }
        if a.owner:
            attrs["owner"] = ref("User", a.owner)
        if a.team:
            attrs["team"] = ref("Team", a.team)
        if a.risk_tier:
            attrs["risk_tier"] = a.risk_tier
        out.append(_entity("App", a.name, attrs, [("Team", a.team)] if a.team else ()))


def _agents(data: PolicyData, out: list[dict[str, Any]]) -> None:
    for agent_id, g in data.agents.items():
        attrs = {
            "name": g.name,
            "id": agent_id,
            "owner": ref("User", g.owner),
            "status": g.status,
            "risk_tier": g.risk_tier,
            "purpose": g.purpose,
            "data_classes": _classes(g.data_classes),
        }
        if g.sponsor:
            attrs["sponsor"] = ref("User", g.sponsor)
        if g.team:
            attrs["team"] = ref("Team", g.team)
        out.append(_entity("Agent", g.name, attrs, [("Team", g.team)] if g.team else ()))
    for sa_id, s in data.services.items():
        attrs = {"name": s.name, "id": sa_id}
        if s.team:
            attrs["team"] = ref("Team", s.team)
        out.append(_entity("Service", s.name, attrs, [("Team", s.team)] if s.team else ()))


def _models(models: Iterable[ModelInfo], groups: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    out = [_entity("ModelGroup", g, {}) for g in sorted(groups)]
    member: dict[str, set[str]] = {}
    for group, aliases in groups.items():
        for alias in aliases:
            member.setdefault(alias, set()).add(group)
    for m in models:
        attrs: dict[str, Any] = {
            "name": m.name,
            "provider": m.provider,
            "kind": m.kind,
            "data_classes": _classes(m.data_classes),
        }
        if m.risk_tier:
            attrs["risk_tier"] = m.risk_tier
        parents = sorted(member.get(m.name, set()) | set(m.groups))
        out.append(_entity("Model", m.name, attrs, (("ModelGroup", g) for g in parents)))
    return out


def build_entities(
    data: PolicyData, models: Iterable[ModelInfo], groups: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """The base entity list (Cedar JSON) for one snapshot."""
    out: list[dict[str, Any]] = [_entity("DataClass", c, {}) for c in DATA_CLASSES]
    _people(data, out)
    _agents(data, out)
    out.extend(_models(models, groups))
    return out


def tool_entities(tool: str, server: str | None) -> list[dict[str, Any]]:
    """A tool and its server, added to the base for the first call of that tool."""
    out = []
    if server:
        out.append(_entity("ToolServer", server, {}))
    out.append(
        _entity(
            "Tool",
            tool,
            {"name": tool, "server": server or ""},
            [("ToolServer", server)] if server else (),
        )
    )
    return out


__all__ = ["DATA_CLASSES", "ModelInfo", "build_entities", "ref", "tool_entities", "uid"]
