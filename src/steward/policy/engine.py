"""The policy engine: Cedar decisions for model invocations and tool calls, from policies parsed
once per snapshot. `gw.policy.decide_model(...)` / `decide_tool(...)` return a `Decision`.

Enforced sets decide; shadow sets are evaluated as well (together with the enforced ones) and a
denial that only they cause is reported with `allowed=True, verdict="deny", mode="shadow"`.
A request by an agent acting for a user, or by a sub-agent, is decided for every principal of
the chain; all must allow. Forbid beats permit; no permit means deny; a forbid that cannot be
evaluated denies (fail closed)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cedarpy

from steward.identity.snapshot import Principal, Snapshot
from steward.policy import _cedar
from steward.policy import _request as rq
from steward.policy.data import SECTION, PolicyData
from steward.policy.entities import ModelInfo, build_entities, ref, tool_entities
from steward.policy.schema import build_schema
from steward.policy.sets import (
    CompiledSet,
    PolicyError,
    PolicyInfo,
    PolicySource,
    combine,
    compile_builtin,
    compile_set,
)
from steward.policy.settings import PolicySettings
from steward.remediation.overrides import approval_required

log = logging.getLogger("steward.policy")

_ERRORED = re.compile(r"policy `([^`]+)`")
_TOOL_CACHE_MAX = 4096
_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one authorization."""

    allowed: bool  # may the request go on (shadow-mode denials are allowed=True)
    verdict: str  # "allow" | "deny": what the policies decided
    approval: bool  # a determining permit policy requires human approval
    mode: str  # "enforce" | "shadow"
    policies: tuple[str, ...]  # ids of the determining policies
    reason: str  # human-readable explanation, safe to return to clients
    errors: tuple[str, ...] = ()

    @property
    def recordable(self) -> bool:
        """Whether the caller records it as a `policy.decision` audit event."""
        return self.verdict == "deny" or self.approval

    def details(self) -> dict[str, Any]:
        """The decision's fields for an audit event's details."""
        return {
            "allowed": self.allowed,
            "verdict": self.verdict,
            "approval": self.approval,
            "mode": self.mode,
            "policies": list(self.policies),
            "reason": self.reason,
            "errors": list(self.errors),
        }


@dataclass(slots=True)
class Compiled:
    """Everything derived from one snapshot; replaced whole, never changed (but the tool
    entity cache, which only grows)."""

    sets: tuple[CompiledSet, ...]
    enforce: cedarpy.PolicySet
    shadow: cedarpy.PolicySet | None
    info: dict[str, PolicyInfo]
    entities: cedarpy.Entities
    data: PolicyData
    failed: tuple[str, ...] = ()  # sets that did not load, with why
    tools: dict[tuple[str, str | None], cedarpy.Entities] = field(default_factory=dict)
    prepared: dict[tuple[Any, ...], Prepared] = field(default_factory=dict)
    decisions: dict[tuple[Any, ...], Decision] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The principal-dependent half of a request, reusable for any resource."""

    subjects: tuple[rq.Subject, ...]
    uids: tuple[dict[str, str], ...]
    contexts: tuple[str, ...]  # JSON, one per subject
    action: dict[str, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One subject's Cedar result."""

    subject: rq.Subject
    allowed: bool
    reasons: tuple[str, ...]
    errors: tuple[str, ...]


def model_infos(models: Iterable[Any]) -> list[ModelInfo]:
    """ModelInfo for each configured model (steward.config.models.ModelConfig)."""
    return [
        ModelInfo(
            name=m.name,
            provider=m.provider,
            kind=m.kind,
            risk_tier=m.risk_tier,
            data_classes=tuple(m.data_classes),
        )
        for m in models
    ]


class PolicyEngine:
    """Decides with the policies of the current snapshot (file sets, stored sets, built-ins)."""

    def __init__(
        self,
        settings: PolicySettings,
        models: Iterable[ModelInfo] = (),
        file_sets: Sequence[PolicySource] = (),
    ) -> None:
        self.settings = settings
        self.schema = build_schema(settings)
        self.models = tuple(models)
        self.argument_types = dict(settings.arguments)
        self.builtin = compile_builtin(
            self.schema, settings.default_model_access, settings.default_tool_access
        )
        self.file_sets = tuple(compile_set(s, self.schema, self.argument_types) for s in file_sets)
        self._known: dict[tuple[str, str, str], CompiledSet] = {}
        self._applied: dict[str, CompiledSet] = {}  # name -> the version in force
        self._lock = threading.Lock()
        self.fast = True  # the extension call (see _cedar.py); False: cedarpy's public API
        self.cache_decisions = True  # reuse a model decision within its second (benchmarks: off)
        self.state = self._compile(PolicyData())
        self.snapshot: Snapshot | None = None  # the latest, for remediation overrides

    # -- loading ---------------------------------------------------------------------------

    def on_snapshot(self, snap: Snapshot) -> None:
        """Snapshot listener: recompile when the snapshot changes."""
        self.snapshot = snap
        self.load(snap.section(SECTION))

    def load(self, data: PolicyData) -> None:
        """Build the next state from `data`; the current one serves until it is ready."""
        self.state = self._compile(data)

    def _stored(self, source: PolicySource) -> CompiledSet:
        key = (source.name, source.mode, source.sha256)
        hit = self._known.get(key)
        if hit is None or hit.source.version != source.version:
            hit = compile_set(source, self.schema, self.argument_types)
        return hit

    def _compile(self, data: PolicyData) -> Compiled:
        with self._lock:
            by_name: dict[str, CompiledSet] = {s.source.name: s for s in self.file_sets}
            failed: list[str] = []
            known: dict[tuple[str, str, str], CompiledSet] = {}
            for source in data.sets:
                try:
                    compiled = self._stored(source)
                except PolicyError as exc:
                    # never half-applied: keep the last good version of this set, if any
                    prev = self._applied.get(source.name)
                    failed.append(str(exc))
                    log.error("policy set not applied: %s", exc)
                    if prev is None:
                        continue
                    compiled = prev
                if source.name in by_name and by_name[source.name].source.origin != "store":
                    log.warning(
                        "stored policy set '%s' replaces the file of that name", source.name
                    )
                by_name[source.name] = compiled
                known[(source.name, source.mode, source.sha256)] = compiled
            self._known = known
            self._applied = dict(by_name)
            sets = (self.builtin, *sorted(by_name.values(), key=lambda s: s.source.name))
            enforce = [s for s in sets if s.source.mode == "enforce"]
            has_shadow = any(s.source.mode == "shadow" for s in sets)
            info = {pid: i for s in sets for pid, i in s.info.items()}
            entities = build_entities(data, self.models, self.settings.model_groups)
            return Compiled(
                sets=sets,
                enforce=combine(enforce),
                shadow=combine(sets) if has_shadow else None,
                info=info,
                entities=cedarpy.Entities.from_json_str(rq.dumps_list(entities)),
                data=data,
                failed=tuple(failed),
            )

    # -- deciding --------------------------------------------------------------------------

    def decide_model(
        self, principal: Principal, model_alias: str, context: Mapping[str, Any] | None = None
    ) -> Decision:
        """May `principal` invoke the model alias?"""
        st = self.state
        extra = context or {}
        if not extra.keys() <= {"endpoint"}:
            ctx = rq.base_context(principal, st.data, extra)
            return self._decide_model(
                st, self.prepare(st, principal, "invoke_model", ctx), model_alias
            )
        # the gateway's case: the context depends only on the principal, the endpoint and the
        # second, so within a second the prepared request and the decision are reused
        now = time.time()
        key = (principal, extra.get("endpoint"), int(now))
        if self.cache_decisions:
            hit = st.decisions.get((*key, model_alias))
            if hit is not None:
                return hit
        prepared = st.prepared.get(key)
        if prepared is None:
            ctx = rq.base_context(principal, st.data, {**extra, "now": now})
            prepared = self.prepare(st, principal, "invoke_model", ctx)
            if len(st.prepared) >= _CACHE_MAX:
                st.prepared.clear()
            st.prepared[key] = prepared
        decision = self._decide_model(st, prepared, model_alias)
        if self.cache_decisions:
            if len(st.decisions) >= _CACHE_MAX:
                st.decisions.clear()
            st.decisions[(*key, model_alias)] = decision
        return decision

    def _decide_model(self, st: Compiled, prepared: Prepared, model_alias: str) -> Decision:
        resource = {"type": "Model", "id": model_alias}
        return self._decide(st, prepared, resource, st.entities, f"model '{model_alias}'")

    def decide_tool(
        self,
        principal: Principal,
        tool: str,
        server: str | None,
        arguments: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """May `principal` call `tool` (on `server`) with these arguments?"""
        st = self.state
        what = f"tool '{tool}'"
        ctx = rq.base_context(principal, st.data, context or {})
        try:
            ctx.update(rq.tool_context(arguments, self.argument_types))
        except rq.ArgumentTypeError as exc:
            return Decision(False, "deny", False, "enforce", (), f"{what}: {exc}")
        entities = self._tool_entities(st, tool, server)
        resource = {"type": "Tool", "id": tool}
        prepared = self.prepare(st, principal, "call_tool", ctx)
        return self._remediated(principal, self._decide(st, prepared, resource, entities, what))

    def _remediated(self, principal: Principal, decision: Decision) -> Decision:
        """A remediation rule's `require_approval` on the agent (or an agent of its chain) holds
        every tool call policy allows for a person (docs/remediation.md)."""
        snap = self.snapshot
        if snap is None or not decision.allowed or decision.approval:
            return decision
        for agent in dict.fromkeys((principal.agent_id, *principal.chain)):
            why = approval_required(snap, agent)
            if why is not None:
                return replace(decision, approval=True, reason=f"allowed: human approval {why}")
        return decision

    def may_call_tool(self, principal: Principal, tool: str, server: str | None) -> bool:
        """Could some call of `tool` be permitted, whatever its arguments and context? Used to
        list tools: Cedar's partial evaluation with the context unknown, so a tool a policy
        permits only for some arguments (refunds up to 100) is listed, and one that every
        subject is definitely denied (no permit can apply, or a forbid always does) is not.
        A preview only: every call is decided in full by `decide_tool`."""
        st = self.state
        entities = self._tool_entities(st, tool, server)
        prepared = self.prepare(st, principal, "call_tool", {})
        resource = f'Tool::"{_escape(tool)}"'
        action = f'Action::"{_escape(prepared.action["id"])}"'
        for uid in prepared.uids:
            request = {
                "principal": f'{uid["type"]}::"{_escape(uid["id"])}"',
                "action": action,
                "resource": resource,
                "context": None,  # unknown: arguments, time, findings
            }
            result = cedarpy.is_authorized_partial(request, st.enforce, entities)
            if result.decision == cedarpy.Decision.Deny:
                return False
        return True

    def _tool_entities(self, st: Compiled, tool: str, server: str | None) -> cedarpy.Entities:
        key = (tool, server)
        hit = st.tools.get(key)
        if hit is None:
            if len(st.tools) >= _TOOL_CACHE_MAX:
                st.tools.clear()
            hit = st.entities.with_added_json_str(rq.dumps_list(tool_entities(tool, server)))
            st.tools[key] = hit
        return hit

    def prepare(
        self, st: Compiled, principal: Principal, action: str, ctx: dict[str, Any]
    ) -> Prepared:
        """Who the request is decided for and each one's context JSON (the key's model list
        binds the acting principal only)."""
        subs = rq.subjects(principal, st.data)
        first = dict(ctx)
        models = rq.key_models(principal) if action == "invoke_model" else None
        if models is not None:
            first["key_models"] = models
        contexts = [rq.dumps(first)]
        if len(subs) > 1:
            rest = rq.dumps(ctx)
            contexts.extend(rest for _ in subs[1:])
        return Prepared(
            tuple(subs),
            tuple(s.uid() for s in subs),
            tuple(contexts),
            {"type": "Action", "id": action},
        )

    @staticmethod
    def requests(prepared: Prepared, resource: dict[str, str]) -> list[dict[str, Any]]:
        """The Cedar requests, one per subject."""
        act = prepared.action
        return [
            {"principal": uid, "action": act, "resource": resource, "context": ctx}
            for uid, ctx in zip(prepared.uids, prepared.contexts, strict=True)
        ]

    def evaluate(
        self,
        st: Compiled,
        policies: cedarpy.PolicySet,
        subs: list[rq.Subject],
        reqs: list[dict[str, Any]],
        entities: cedarpy.Entities,
    ) -> list[Outcome]:
        """Run Cedar once for all subjects; an errored forbid counts as matched."""
        results = _cedar.authorize(reqs, policies, entities, fast=self.fast)
        out = []
        for sub, res in zip(subs, results, strict=True):
            reasons, errors = res.reasons, res.errors
            allowed = res.allowed
            if errors:
                broken = [
                    m.group(1)
                    for e in errors
                    if (m := _ERRORED.search(e))
                    and m.group(1) in st.info
                    and st.info[m.group(1)].effect == "forbid"
                ]
                if broken:
                    allowed, reasons = False, tuple(broken)
            out.append(Outcome(sub, allowed, reasons, errors))
        return out

    def _decide(
        self,
        st: Compiled,
        prepared: Prepared,
        resource: dict[str, str],
        entities: cedarpy.Entities,
        what: str,
    ) -> Decision:
        subs = list(prepared.subjects)
        reqs = self.requests(prepared, resource)
        outcomes = self.evaluate(st, st.enforce, subs, reqs, entities)
        verb = "invoke" if prepared.action["id"] == "invoke_model" else "call"
        errors = tuple(e for o in outcomes for e in o.errors)
        denied = next((o for o in outcomes if not o.allowed), None)
        if denied is not None:
            return Decision(
                False,
                "deny",
                False,
                "enforce",
                denied.reasons,
                self._why(st, denied, verb, what, subs[0]),
                errors,
            )
        permits = tuple(dict.fromkeys(r for o in outcomes for r in o.reasons))
        approval = any(st.info[r].approval for r in permits if r in st.info)
        if st.shadow is not None:
            shadow = self.evaluate(st, st.shadow, subs, reqs, entities)
            sdenied = next((o for o in shadow if not o.allowed), None)
            if sdenied is not None:
                why = self._why(st, sdenied, verb, what, subs[0])
                return Decision(
                    True,
                    "deny",
                    approval,
                    "shadow",
                    sdenied.reasons,
                    f"shadow mode (not enforced): {why}",
                    errors + tuple(e for o in shadow for e in o.errors),
                )
        reason = "allowed" + (
            ": human approval required by policy "
            + ", ".join(r for r in permits if st.info[r].approval)
            if approval
            else ""
        )
        return Decision(True, "allow", approval, "enforce", permits, reason, errors)

    @staticmethod
    def _why(st: Compiled, o: Outcome, verb: str, what: str, first: rq.Subject) -> str:
        who = o.subject.label
        prefix = ""
        if o.subject.role == "on_behalf_of":
            prefix = f"{first.label} acts on behalf of {who}, and "
        elif o.subject.role == "delegator":
            prefix = f"{first.label} acts for {who} (delegation chain), and "
        if not o.reasons:
            return f"{prefix}no policy permits {who} to {verb} {what}"
        named = []
        for pid in o.reasons:
            pi = st.info.get(pid)
            named.append(f"'{pid}'" + (f" ({pi.reason})" if pi and pi.reason else ""))
        return f"{prefix}{who} may not {verb} {what}: forbidden by policy " + ", ".join(named)

    def status(self) -> dict[str, Any]:
        """The sets in force in this process (for operators)."""
        st = self.state
        return {
            "sets": [
                {
                    "name": s.source.name,
                    "mode": s.source.mode,
                    "version": s.source.version,
                    "origin": s.source.origin,
                    "policies": len(s.info),
                }
                for s in st.sets
            ],
            "failed": list(st.failed),
        }


__all__ = ["Compiled", "Decision", "Outcome", "PolicyEngine", "Prepared", "model_infos", "ref"]


def _escape(value: str) -> str:
    """A string as the inside of a Cedar string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
