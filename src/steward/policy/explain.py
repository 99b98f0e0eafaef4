"""Explanations: for a request, the decision and, for every principal it was decided for, each
policy in force with whether its scope and conditions matched (evaluated alone)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cedarpy

from steward.policy import _request as rq
from steward.policy.engine import Decision, PolicyEngine
from steward.policy.requests import RequestSpec, caller_context, decide, to_principal
from steward.policy.sets import flipped


@dataclass(frozen=True)
class PolicyMatch:
    id: str
    set_name: str
    mode: str
    effect: str
    approval: bool
    matched: bool
    error: str | None
    text: str


@dataclass(frozen=True)
class SubjectExplanation:
    principal: str  # e.g. agent 'support-bot'
    role: str  # acting | on_behalf_of | delegator
    policies: list[PolicyMatch]


@dataclass(frozen=True)
class Explanation:
    decision: Decision
    subjects: list[SubjectExplanation]
    context: dict[str, Any]


def explain(engine: PolicyEngine, spec: RequestSpec) -> Explanation:
    """Decide `spec` and say, per principal, which policies matched and which did not."""
    decision = decide(engine, spec)
    st = engine.state
    principal = to_principal(spec, st.data)
    ctx = rq.base_context(principal, st.data, caller_context(spec))
    if spec.action == "call_tool":
        try:
            ctx.update(rq.tool_context(spec.arguments, engine.argument_types))
        except rq.ArgumentTypeError:
            return Explanation(decision, [], ctx)
        entities = engine._tool_entities(st, spec.resource, spec.server)
        resource = {"type": "Tool", "id": spec.resource}
    else:
        entities = st.entities
        resource = {"type": "Model", "id": spec.resource}
    prepared = engine.prepare(st, principal, spec.action, ctx)
    subs, reqs = prepared.subjects, engine.requests(prepared, resource)
    per: list[list[PolicyMatch]] = [[] for _ in subs]
    for cset in st.sets:
        for pid, info in cset.info.items():
            results = cedarpy.is_authorized_batch(reqs, flipped(cset, pid), entities)
            for i, res in enumerate(results):
                errors = res.diagnostics.errors
                per[i].append(
                    PolicyMatch(
                        id=pid,
                        set_name=cset.source.name,
                        mode=cset.source.mode,
                        effect=info.effect,
                        approval=info.approval,
                        matched=res.allowed,
                        error="; ".join(errors) if errors else None,
                        text=info.text,
                    )
                )
    subjects = [SubjectExplanation(s.label, s.role, per[i]) for i, s in enumerate(subs)]
    return Explanation(decision, subjects, ctx)


__all__ = ["Explanation", "PolicyMatch", "SubjectExplanation", "explain"]
