"""What the tool-calls stage works with, whatever the wire format: a tool call taken from a model's
answer (name, arguments parsed strictly), the denial that withholds it, and the machine-readable
entry and the text that tell the client why."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

# Denial codes (documented in docs/tool-calls.md).
TOOL_NOT_ALLOWED = "tool_not_allowed"
APPROVAL_REQUIRED = "approval_required"
APPROVAL_DENIED = "approval_denied"
INVALID_ARGUMENTS = "invalid_arguments"
INVALID_TOOL_CALL = "invalid_tool_call"
POLICY_UNAVAILABLE = "policy_unavailable"

DENIED_FIELD = "steward_denied_tool_calls"
DENIED_HEADER = b"x-steward-tool-calls-denied"


class _BadArguments(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Parsers disagree on which duplicate wins: the policy must see what the tool sees.
            raise _BadArguments(f"the key '{key}' appears twice")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _BadArguments(f"{name} is not valid JSON")


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # an escaped UTF-16 surrogate


def _lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a tool call's JSON arguments strictly: a JSON object without duplicate keys (parsers
    disagree on which one wins), NaN/Infinity or unpaired surrogates; an empty string is an
    empty object. Returns (arguments, None) or (None, why they cannot be used)."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _BadArguments as exc:
        return None, f"the arguments are not usable JSON: {exc}"
    except (ValueError, RecursionError) as exc:
        return None, f"the arguments are not valid JSON ({exc})"
    if not isinstance(value, dict):
        return None, f"the arguments must be a JSON object, not {type(value).__name__}"
    if _SURROGATE.search(raw) and _lone_surrogate(value):
        return None, "the arguments are not usable JSON: a string holds an unpaired surrogate"
    return value, None


@dataclass(slots=True)
class ToolCall:
    """One tool call in an answer. `arguments` is None when `error` says why they are unusable."""

    id: str | None
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str | None  # the wire's JSON text (OpenAI, Anthropic streams), if any
    location: str  # where it was in the answer, e.g. choices[0].message.tool_calls[1]
    error: str | None = None
    error_code: str = INVALID_ARGUMENTS
    key: tuple[Any, ...] = ()  # the wire module's own handle on the call's position
    kind: str = "function"  # function | custom (OpenAI free-form input) | tool_use (Anthropic)

    @classmethod
    def from_json_text(
        cls, call_id: str | None, name: str, raw: str, location: str, key: tuple[Any, ...]
    ) -> ToolCall:
        """A call whose arguments arrived as JSON text (OpenAI; Anthropic streams)."""
        arguments, error = parse_arguments(raw)
        return cls(call_id, name, arguments, raw, location, error, key=key)

    @classmethod
    def malformed(
        cls, call_id: str | None, name: str, why: str, location: str, key: tuple[Any, ...]
    ) -> ToolCall:
        """A call Steward cannot read (no name, an unknown type): always withheld."""
        return cls(call_id, name, None, None, location, why, INVALID_TOOL_CALL, key)

    def arguments_sha256(self) -> str:
        """A stable hash of the arguments (canonical JSON; the raw text when unparseable), so
        audit events can be correlated without recording the values."""
        if self.arguments is not None:
            try:
                data = orjson.dumps(self.arguments, option=orjson.OPT_SORT_KEYS)
            except TypeError:  # an integer beyond 64 bits: the standard library can
                data = json.dumps(
                    self.arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                ).encode("utf-8", "surrogatepass")
        else:
            data = (self.raw_arguments or "").encode("utf-8", "surrogatepass")
        return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a call is withheld; `approval_id` when a human approval was requested for it."""

    code: str
    reason: str
    policies: tuple[str, ...] = ()
    approval_id: str | None = None
    approval_status: str | None = None

    def entry(self, call: ToolCall) -> dict[str, Any]:
        """The machine-readable record the client receives for the withheld call."""
        out: dict[str, Any] = {
            "id": call.id,
            "name": call.name,
            "code": self.code,
            "reason": self.reason,
            "policies": list(self.policies),
            "arguments_sha256": call.arguments_sha256(),
        }
        if self.code in (APPROVAL_REQUIRED, APPROVAL_DENIED):
            out["approval"] = (
                {"id": self.approval_id, "status": self.approval_status}
                if self.approval_id
                else None
            )
        return out

    def text(self, call: ToolCall) -> str:
        """One line for the answer's text, readable by the agent and by the model next turn."""
        ident = f" ({call.id})" if call.id else ""
        line = f"[steward] The tool call {call.name}{ident} was not delivered: {self.reason}"
        if self.approval_id and self.approval_status == "pending":
            line += (
                f" Approval {self.approval_id} is pending; retry the same call once it is approved."
            )
        elif self.approval_id:
            line += f" Approval {self.approval_id} is {self.approval_status}."
        return line


def explanation(denied: list[tuple[ToolCall, Denial]]) -> str:
    """The text that says which calls were withheld and why."""
    return "\n".join(d.text(c) for c, d in denied)


def entries(denied: list[tuple[ToolCall, Denial]]) -> list[dict[str, Any]]:
    return [d.entry(c) for c, d in denied]
