"""The guard on MCP tool calls: detectors run on every string in the arguments (direction
`input`: secrets and personal data going out) and on the result's text (direction `output`:
injected instructions and data coming in). The agent's guard profiles apply as for model calls
(default, team, app, agent attachments), plus `mcp.guard_profile` and the server's
`guard_profile`; the strictest action wins. Values never leave this module except as keyed
hashes in findings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import mcp_types as types

from steward.events.ids import new_id
from steward.guard.actions import TRANSFORMS, Hit, Pseudonyms, apply
from steward.guard.profiles import RANK, Direction, ProfileSet

if TYPE_CHECKING:
    from steward.gateway.context import RequestContext
    from steward.guard.runtime import GuardRuntime
    from steward.identity.snapshot import Principal

log = logging.getLogger("steward.mcp")
STOPPING = frozenset({"block", "require_approval"})


class GuardUnavailable(Exception):
    """A detector failed and the profiles fail closed."""


@dataclass(slots=True)
class _Query:
    """What profile resolution reads of a request: who, and no model route."""

    principal: Principal | None
    route: tuple[()] = ()
    model_alias: str | None = None


def profiles_for(rt: GuardRuntime, principal: Principal, extra: list[str]) -> ProfileSet:
    """The agent's profiles (as for its model calls) plus the MCP-specific ones."""
    base = rt.profiles_for(cast("RequestContext", _Query(principal)))
    names = [n for n in extra if n and n not in base.names]
    if not names:
        return base
    return ProfileSet([*base.profiles, *((n, rt.settings.profile(n)) for n in names)])


@dataclass
class GuardScan:
    """What the guard found in one call (arguments and result)."""

    profiles: ProfileSet
    pseudonyms: Pseudonyms = field(default_factory=Pseudonyms)
    # (direction, location, entity, data_class, detector, action, profile, label) -> [count, hash]
    findings: dict[tuple[str | None, ...], list[Any]] = field(default_factory=dict)
    stops: list[tuple[str, Hit]] = field(default_factory=list)
    worst: str | None = None
    flagged: set[str] = field(default_factory=set)  # data classes found in the result

    def summary(self) -> list[dict[str, Any]]:
        """Findings for the audit event: where, what, which action; never values."""
        return [
            {
                "direction": k[0],
                "location": k[1],
                "entity": k[2],
                "data_class": k[3],
                "action": k[5],
                "profile": k[6],
                "count": v[0],
            }
            for k, v in self.findings.items()
        ]

    def stop_message(self) -> str:
        """Why the call (or its result) is stopped, naming places and entities, no values."""
        where = "; ".join(
            f"{h.entity} ({h.data_class}) in {loc}" + (f" [{h.label}]" if h.label else "")
            for loc, h in self.stops[:5]
        )
        return f"guard profile '{self.stops[0][1].decision.profile}': {where}"


class ToolGuard:
    """Scans arguments and results with the process's guard runtime."""

    def __init__(self, rt: GuardRuntime) -> None:
        self.rt = rt

    @property
    def enabled(self) -> bool:
        return self.rt.settings.enabled

    def _scan_text(self, scan: GuardScan, direction: Direction, location: str, text: str) -> str:
        try:
            findings = self.rt.scanner.scan(text)
        except Exception as exc:
            log.exception("guard detector failed on %s", location)
            if not scan.profiles.fail_open:
                raise GuardUnavailable(
                    f"the guard could not scan {location} and its profile fails closed"
                ) from exc
            return text
        hits = []
        for f in findings:
            decision = scan.profiles.decide(direction, f.entity, f.data_class, f.score)
            hits.append(
                Hit(f.entity, f.data_class, f.detector, f.start, f.end, f.score, f.label, decision)
            )
        for h in hits:
            if direction == "output":
                scan.flagged.add(h.data_class)
            act = h.decision.action
            if act == "allow":
                continue
            key = (
                direction,
                location,
                h.entity,
                h.data_class,
                h.detector,
                act,
                h.decision.profile,
                h.label,
            )
            entry = scan.findings.setdefault(key, [0, None])
            entry[0] += 1
            if entry[1] is None:
                entry[1] = self.rt.keyed.digest(text[h.start : h.end])
            if scan.worst is None or RANK[act] > RANK[scan.worst]:
                scan.worst = act
            if act in STOPPING:
                scan.stops.append((location, h))
        if any(h.decision.action in TRANSFORMS for h in hits):
            return apply(text, hits, self.rt.keyed, scan.pseudonyms)
        return text

    def _walk(self, scan: GuardScan, direction: Direction, value: Any, path: str) -> Any:
        if isinstance(value, str):
            return self._scan_text(scan, direction, path, value) if value else value
        if isinstance(value, dict):
            return {k: self._walk(scan, direction, v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(scan, direction, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def arguments(self, scan: GuardScan, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments with transforming actions applied (check `scan.stops` after)."""
        out: dict[str, Any] = self._walk(scan, "input", arguments, "arguments")
        scan.pseudonyms.seal_input()
        return out

    def result(self, scan: GuardScan, result: types.CallToolResult) -> types.CallToolResult:
        """The result with transforming actions applied and the caller's pseudonyms restored."""
        restore: Callable[[str], str] = scan.pseudonyms.restore
        content: list[types.ContentBlock] = []
        for i, block in enumerate(result.content):
            if isinstance(block, types.TextContent):
                text = self._scan_text(scan, "output", f"result.content[{i}]", block.text)
                block = block.model_copy(update={"text": restore(text)})
            content.append(block)
        structured = result.structured_content
        if structured is not None:
            structured = _restore(
                self._walk(scan, "output", structured, "result.structured"), restore
            )
        return result.model_copy(update={"content": content, "structured_content": structured})


def _restore(value: Any, restore: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return restore(value)
    if isinstance(value, dict):
        return {k: _restore(v, restore) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, restore) for v in value]
    return value


def finding_records(
    scan: GuardScan, principal: Principal, request_id: str, ts: datetime, tool: str
) -> list[dict[str, Any]]:
    """`finding` event records (the guard_findings table), one per place, entity and action."""
    out = []
    for (direction, location, entity, data_class, detector, action, profile, label), (
        count,
        digest,
    ) in scan.findings.items():
        out.append(
            {
                "kind": "finding",
                "row": {
                    "id": new_id(),
                    "ts": ts,
                    "request_id": request_id,
                    "direction": direction,
                    "location": f"mcp {tool} {location}"[:300],
                    "entity": entity,
                    "data_class": data_class,
                    "detector": detector,
                    "action": action,
                    "profile": profile,
                    "count": count,
                    "value_hash": digest,
                    "label": label,
                    "model": None,
                    "key_id": principal.key_id,
                    "user_id": principal.user_id,
                    "team_id": principal.team_id,
                    "app_id": principal.app_id,
                    "agent_id": principal.agent_id,
                },
            }
        )
    return out


__all__ = ["GuardScan", "GuardUnavailable", "ToolGuard", "finding_records", "profiles_for"]
