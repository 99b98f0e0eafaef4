"""Tool pinning: the hash of a tool's definition, and what a listing means for the pins.

A tool is pinned by the SHA-256 of the canonical JSON of its name, description and input
schema. Agents may call a tool only while its current definition is the approved one. A tool
whose definition changes (a "rug pull"), or a new tool whose name shadows another tool's (the
same name up to case, dashes, dots and underscores, on any server), is quarantined until an
admin approves it. A tool seen for the first time is pinned at once (`mcp.new_tools: pin`) or
quarantined too (`quarantine`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from steward.agents.mcp.names import SEPARATOR, shadow_key

Status = Literal["approved", "quarantined"]


def definition(
    name: str, description: str | None, input_schema: Mapping[str, Any]
) -> dict[str, Any]:
    """The pinned part of a tool: what an agent (and its model) reads to decide to call it."""
    return {"name": name, "description": description or "", "inputSchema": dict(input_schema)}


def tool_hash(defn: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON (sorted keys, no spaces) of a tool definition."""
    canonical = orjson.dumps(
        {
            "name": defn["name"],
            "description": defn.get("description") or "",
            "inputSchema": defn.get("inputSchema") or {},
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class Pin:
    """A tool's pin as every gateway process sees it (the snapshot's `mcp_tools` section)."""

    server: str
    name: str
    status: Status
    approved_hash: str | None
    current_hash: str
    reason: str | None = None  # changed | shadows | new | admin
    detail: str | None = None

    def usable(self, current_hash: str) -> bool:
        """Whether an agent may see and call the tool as it is defined now."""
        return self.status == "approved" and self.approved_hash == current_hash

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "name": self.name,
            "status": self.status,
            "approved_hash": self.approved_hash,
            "current_hash": self.current_hash,
            "reason": self.reason,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Pin:
        return cls(
            server=d["server"],
            name=d["name"],
            status=d["status"],
            approved_hash=d.get("approved_hash"),
            current_hash=d["current_hash"],
            reason=d.get("reason"),
            detail=d.get("detail"),
        )


PinKey = tuple[str, str]  # (server, upstream tool name)


@dataclass(frozen=True, slots=True)
class Change:
    """A pin to write after a listing: the new pin and why (for the audit trail)."""

    pin: Pin
    event: Literal["pin", "quarantine", "update"]  # update: still quarantined, new definition


def _shadowed(
    server: str, name: str, pins: Iterable[Pin], seen: Mapping[str, PinKey]
) -> str | None:
    key = shadow_key(name)
    for other in pins:
        if (other.server, other.name) != (server, name) and shadow_key(other.name) == key:
            return f"{other.server}{SEPARATOR}{other.name}"
    found = seen.get(key)
    if found is not None and found != (server, name):
        return f"{found[0]}{SEPARATOR}{found[1]}"
    return None


def assess(
    server: str,
    listed: Mapping[str, str],
    pins: Mapping[PinKey, Pin],
    new_tools: Literal["pin", "quarantine"] = "pin",
) -> list[Change]:
    """The pins a listing of `server` (tool name -> definition hash) creates or changes."""
    changes: list[Change] = []
    seen: dict[str, PinKey] = {}
    for name in sorted(listed):
        h = listed[name]
        pin = pins.get((server, name))
        if pin is None:
            shadowed = _shadowed(server, name, pins.values(), seen)
            if shadowed is not None:
                new = Pin(
                    server,
                    name,
                    "quarantined",
                    None,
                    h,
                    "shadows",
                    f"its name shadows the tool {shadowed}",
                )
                changes.append(Change(new, "quarantine"))
            elif new_tools == "quarantine":
                new = Pin(
                    server,
                    name,
                    "quarantined",
                    None,
                    h,
                    "new",
                    "new tools wait for an admin's approval (mcp.new_tools: quarantine)",
                )
                changes.append(Change(new, "quarantine"))
            else:
                changes.append(Change(Pin(server, name, "approved", h, h), "pin"))
        elif pin.current_hash != h or (pin.status == "approved" and pin.approved_hash != h):
            if pin.status == "approved":
                new = Pin(
                    server,
                    name,
                    "quarantined",
                    pin.approved_hash,
                    h,
                    "changed",
                    "its description or input schema changed since it was approved",
                )
                changes.append(Change(new, "quarantine"))
            else:
                new = Pin(server, name, "quarantined", pin.approved_hash, h, pin.reason, pin.detail)
                changes.append(Change(new, "update"))
        seen.setdefault(shadow_key(name), (server, name))
    return changes


__all__ = ["Change", "Pin", "PinKey", "Status", "assess", "definition", "tool_hash"]
