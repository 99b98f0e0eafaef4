"""Policy sets: Cedar text validated against the schema and compiled, all or nothing, into
policies with stable ids (`<set>/<@id or position>`) and their annotations, then combined into
one parsed `cedarpy.PolicySet` per mode. Nothing here runs per request."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import cedarpy

Mode = Literal["enforce", "shadow"]
MODES: tuple[str, ...] = ("enforce", "shadow")
BUILTIN_SET = "steward"
_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_APPROVAL_VALUES = ("required",)
MAX_POLICY_CHARS = 1_000_000


class PolicyError(ValueError):
    """A policy set that cannot be applied: it does not parse or validate. `errors` are Cedar's
    messages, each prefixed with the policy it concerns."""

    def __init__(self, set_name: str, errors: Iterable[str]) -> None:
        self.set_name = set_name
        self.errors = tuple(errors)
        super().__init__(f"policy set '{set_name}' is invalid: " + "; ".join(self.errors))


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A set's text as loaded from a file or the store."""

    name: str
    text: str
    mode: str = "enforce"
    version: int = 0  # 0 for a file
    origin: str = "store"  # "store", "file:<path>" or "builtin"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """One compiled policy: what explanations and decisions say about it."""

    id: str
    set_name: str
    local_id: str
    effect: str  # permit | forbid
    approval: bool
    reason: str | None  # its @reason annotation, used in denial messages
    annotations: Mapping[str, str]
    text: str


@dataclass(frozen=True, slots=True)
class CompiledSet:
    source: PolicySource
    est: Mapping[str, Any]  # policy id -> Cedar JSON (EST) policy
    info: Mapping[str, PolicyInfo] = field(default_factory=dict)


def check_set_name(name: str) -> str:
    """A set name: letters, digits, '.', '_', '-' (it prefixes policy ids); not reserved."""
    if not _SET_NAME.match(name):
        raise PolicyError(
            name,
            [
                "a policy set name is 1-100 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            ],
        )
    if name == BUILTIN_SET:
        raise PolicyError(name, [f"'{BUILTIN_SET}' is reserved for the built-in policies"])
    return name


def _local_ids(est: Mapping[str, Any], set_name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    seen: set[str] = set()
    for pid, pol in est.items():
        local = pol.get("annotations", {}).get("id") or pid
        if local in seen:
            raise PolicyError(set_name, [f"two policies have the id '{local}'; ids must differ"])
        seen.add(local)
        out[pid] = local
    return out


def _texts(text: str) -> dict[str, str]:
    """Each static policy's own text (for explanations), by positional id."""
    try:
        pst = cedarpy.policies_to_pst(text)
    except ValueError:  # syntax the typed nodes do not model yet: explanations show no text
        return {}
    out: dict[str, str] = {}
    for pid in pst.static_policies:
        single = cedarpy.PolicySet.from_pst(
            cedarpy.pst.PolicySet(
                templates={}, static_policies={pid: pst.static_policies[pid]}, template_links=()
            )
        )
        out[pid] = cedarpy.format_policies(str(single)).strip()
    return out


_ARGS = {".": {"left": {"Var": "context"}, "attr": "arguments"}}


def _argument_names(node: Any, out: set[str]) -> set[str]:
    """Every `context.arguments.X` and `context.arguments has X` in a policy's JSON."""
    if isinstance(node, dict):
        for op in (".", "has"):
            inner = node.get(op)
            if isinstance(inner, dict) and inner.get("left") == _ARGS and "attr" in inner:
                out.add(str(inner["attr"]))
        for value in node.values():
            _argument_names(value, out)
    elif isinstance(node, list):
        for value in node:
            _argument_names(value, out)
    return out


def _problems(
    static: Mapping[str, Any], local: Mapping[str, str], declared: Iterable[str] | None
) -> list[str]:
    """What Cedar's validator accepts but Steward refuses: undeclared tool arguments, and
    @approval with another value or on a forbid."""
    problems: list[str] = []
    known = set(declared) if declared is not None else None
    for pid, pol in static.items():
        unknown = sorted(_argument_names(pol, set()) - known) if known is not None else []
        if unknown:
            problems.append(
                f"policy '{local[pid]}': tool argument(s) {', '.join(unknown)} not declared in "
                "policy.arguments (declare each with its type, e.g. amount: Long)"
            )
        approval = pol.get("annotations", {}).get("approval")
        if approval is not None and approval not in _APPROVAL_VALUES:
            problems.append(
                f'policy \'{local[pid]}\': @approval must be "required", not "{approval}"'
            )
        if approval is not None and pol["effect"] != "permit":
            problems.append(
                f"policy '{local[pid]}': @approval applies to permit policies only "
                "(a forbid always denies)"
            )
    return problems


def compile_set(
    source: PolicySource, schema: cedarpy.Schema, declared: Iterable[str] | None = None
) -> CompiledSet:
    """Parse and validate a whole set; raise PolicyError with Cedar's messages if any policy is
    wrong, so a set is applied completely or not at all. With `declared` (the configured tool
    arguments), a policy reading another argument is refused: Cedar would type `has` on an
    undeclared attribute as false, and the policy could never match."""
    name = source.name
    if len(source.text) > MAX_POLICY_CHARS:
        raise PolicyError(name, [f"the set is longer than {MAX_POLICY_CHARS} characters"])
    if source.mode not in MODES:
        raise PolicyError(name, [f"mode '{source.mode}' is not one of: {', '.join(MODES)}"])
    try:
        doc = json.loads(cedarpy.policies_to_json_str(source.text))
    except ValueError as exc:
        raise PolicyError(name, [f"does not parse: {exc}"]) from exc
    if doc.get("templates"):
        raise PolicyError(name, ["templates (?principal, ?resource) are not supported"])
    static: dict[str, Any] = doc.get("staticPolicies", {})
    if not static:
        raise PolicyError(name, ["the set contains no policy"])
    local = _local_ids(static, name)
    result = cedarpy.validate_policies(source.text, schema)
    if not result.validation_passed:
        raise PolicyError(
            name,
            [
                f"policy '{local.get(e.policy_id, e.policy_id)}': {e.error}"
                if e.policy_id
                else e.error
                for e in result.errors
            ],
        )
    problems = _problems(static, local, declared)
    if problems:
        raise PolicyError(name, problems)
    texts = _texts(source.text)
    est: dict[str, Any] = {}
    info: dict[str, PolicyInfo] = {}
    for pid, pol in static.items():
        full = f"{name}/{local[pid]}"
        annotations = dict(pol.get("annotations", {}))
        est[full] = pol
        info[full] = PolicyInfo(
            id=full,
            set_name=name,
            local_id=local[pid],
            effect=pol["effect"],
            approval=annotations.get("approval") == "required",
            reason=annotations.get("reason") or None,
            annotations=annotations,
            text=texts.get(pid, ""),
        )
    return CompiledSet(source=source, est=est, info=info)


def combine(sets: Iterable[CompiledSet]) -> cedarpy.PolicySet:
    """One parsed PolicySet holding every policy of `sets` under its full id."""
    merged: dict[str, Any] = {}
    for s in sets:
        merged.update(s.est)
    doc = {"staticPolicies": merged, "templates": {}, "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(doc))


def flipped(policy: CompiledSet, policy_id: str) -> cedarpy.PolicySet:
    """The single policy as a permit, so evaluating it alone says whether its scope and
    conditions matched the request (used by explanations, never by decisions)."""
    pol = dict(policy.est[policy_id])
    pol["effect"] = "permit"
    doc = {"staticPolicies": {policy_id: pol}, "templates": {}, "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(doc))


def builtin_text(default_model_access: str, default_tool_access: str) -> str:
    """The built-in set: a key's model list, and the defaults when no policy decides."""
    parts = [
        '@id("key-models")\n'
        '@reason("this key may not use this model")\n'
        'forbid (principal, action == Action::"invoke_model", resource)\n'
        "when { context has key_models && !context.key_models.contains(resource) };"
    ]
    if default_model_access == "permit":
        parts.append(
            '@id("models-default")\npermit (principal, action == Action::"invoke_model", resource);'
        )
    if default_tool_access == "deny_agents":
        parts.append(
            '@id("tools-default-non-agents")\n'
            'permit (principal, action == Action::"call_tool", resource)\n'
            "unless { principal is Agent };"
        )
    return "\n\n".join(parts) + "\n"


def compile_builtin(
    schema: cedarpy.Schema, default_model_access: str, default_tool_access: str
) -> CompiledSet:
    """Compile the built-in set (named `steward`)."""
    text = builtin_text(default_model_access, default_tool_access)
    source = PolicySource(name=BUILTIN_SET, text=text, origin="builtin")
    return compile_set(source, schema)


__all__ = [
    "BUILTIN_SET",
    "MODES",
    "CompiledSet",
    "Mode",
    "PolicyError",
    "PolicyInfo",
    "PolicySource",
    "check_set_name",
    "combine",
    "compile_builtin",
    "compile_set",
    "flipped",
]
