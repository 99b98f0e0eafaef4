"""The guard stages: scan every text part of a request (guard input) and of the answer, streamed
or not (guard output); apply the profiles' actions; record findings, never values."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from steward.events.ids import new_id
from steward.gateway.errors import GatewayError
from steward.gateway.stages.base import Stage
from steward.guard.actions import TRANSFORMS, Hit, Pseudonyms, apply
from steward.guard.parts import Slot, request_slots, response_slots
from steward.guard.profiles import RANK, Direction, ProfileSet
from steward.guard.stream import StreamChannel

if TYPE_CHECKING:
    from steward.gateway.context import RequestContext
    from steward.guard import Finding
    from steward.guard.runtime import GuardRuntime

log = logging.getLogger("steward.guard")
_STOPPING = frozenset({"block", "require_approval"})


@dataclass
class GuardState:
    """What the guard knows about one request."""

    profiles: ProfileSet
    pseudonyms: Pseudonyms = field(default_factory=Pseudonyms)
    # (direction, location, entity, data_class, detector, action, profile, label) -> count, hash
    findings: dict[tuple[str | None, ...], list[Any]] = field(default_factory=dict)
    worst: str | None = None
    channels: dict[tuple[Any, ...], StreamChannel[Hit]] = field(default_factory=dict)


def _policy_error(direction: Direction, stops: list[tuple[str, Hit]]) -> GatewayError:
    where = "; ".join(
        f"{h.entity} ({h.data_class}) in {loc}" + (f" [{h.label}]" if h.label else "")
        for loc, h in stops[:5]
    )
    profile = stops[0][1].decision.profile
    if any(h.decision.action == "require_approval" for _, h in stops):
        return GatewayError(
            403,
            f"guard profile '{profile}' requires human approval for: {where}",
            type="permission_error",
            code="approval_required",
        )
    what = "request was blocked" if direction == "input" else "answer was withheld"
    return GatewayError(
        400,
        f"the {what} by guard profile '{profile}': {where}. Remove the data or ask an admin "
        "about the profile.",
        code="content_policy_violation",
    )


class _Guard:
    """Scanning and bookkeeping shared by both stages."""

    def __init__(self, rt: GuardRuntime) -> None:
        self.rt = rt

    def hits(
        self, ctx: RequestContext, direction: Direction, text: str, location: str
    ) -> list[Hit]:
        state: GuardState = ctx.guard
        try:
            findings = self.rt.scanner.scan(text)
        except Exception as exc:
            return self._detector_error(ctx, direction, location, exc)
        return [self._hit(state, direction, f) for f in findings]

    def _hit(self, state: GuardState, direction: Direction, f: Finding) -> Hit:
        decision = state.profiles.decide(direction, f.entity, f.data_class, f.score)
        return Hit(f.entity, f.data_class, f.detector, f.start, f.end, f.score, f.label, decision)

    def _detector_error(
        self, ctx: RequestContext, direction: Direction, location: str, exc: Exception
    ) -> list[Hit]:
        state: GuardState = ctx.guard
        log.exception("guard detector failed on %s (request %s)", location, ctx.request_id)
        action = "allow" if state.profiles.fail_open else "block"
        key = (
            direction,
            location,
            "DETECTOR_ERROR",
            "error",
            type(exc).__name__,
            action,
            ",".join(state.profiles.names),
            None,
        )
        state.findings.setdefault(key, [0, None])[0] += 1
        if action == "block":
            raise GatewayError(
                503,
                f"the guard could not scan {location} and its profile fails closed; "
                f"request id {ctx.request_id}",
                type="api_error",
                code="guard_unavailable",
            )
        return []

    def note(
        self, ctx: RequestContext, direction: Direction, location: str, text: str, hits: list[Hit]
    ) -> None:
        state: GuardState = ctx.guard
        for h in hits:
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
            entry = state.findings.setdefault(key, [0, None])
            entry[0] += 1
            if entry[1] is None:
                entry[1] = self.rt.keyed.digest(text[h.start : h.end])
            if state.worst is None or RANK[act] > RANK[state.worst]:
                state.worst = act

    def rewrite(self, ctx: RequestContext, direction: Direction, slots: list[Slot]) -> None:
        """Scan slots; raise on block/approval; transform the rest in place."""
        state: GuardState = ctx.guard
        stops: list[tuple[str, Hit]] = []
        for slot in slots:
            text = slot.text
            if not text:
                continue
            location = slot.location + (" (tool result)" if slot.from_tool else "")
            hits = self.hits(ctx, direction, text, location)
            if not hits:
                continue
            self.note(ctx, direction, location, text, hits)
            stops += [(location, h) for h in hits if h.decision.action in _STOPPING]
            if any(h.decision.action in TRANSFORMS for h in hits):
                slot.set(apply(text, hits, self.rt.keyed, state.pseudonyms))
        if stops:
            raise _policy_error(direction, stops)

    def records(self, ctx: RequestContext) -> list[dict[str, Any]]:
        state: GuardState | None = ctx.guard
        if state is None or not state.findings:
            return []
        p = ctx.principal
        out = []
        for (direction, location, entity, data_class, detector, action, profile, label), (
            count,
            digest,
        ) in state.findings.items():
            out.append(
                {
                    "kind": "finding",
                    "row": {
                        "id": new_id(),
                        "ts": ctx.received_at,
                        "request_id": ctx.request_id,
                        "direction": direction,
                        "location": str(location)[:300],
                        "entity": entity,
                        "data_class": data_class,
                        "detector": detector,
                        "action": action,
                        "profile": profile,
                        "count": count,
                        "value_hash": digest,
                        "label": label,
                        "model": ctx.model_alias,
                        "key_id": p.key_id if p else None,
                        "user_id": p.user_id if p else None,
                        "team_id": p.team_id if p else None,
                        "app_id": p.app_id if p else None,
                        "agent_id": p.agent_id if p else None,
                    },
                }
            )
        return out


class GuardInput(Stage):
    """guard input: every text part of the request, before any provider sees it."""

    name = "guard input"

    def __init__(self, rt: GuardRuntime) -> None:
        self._g = _Guard(rt)
        self._rt = rt

    async def on_request(self, ctx: RequestContext) -> None:
        if not self._rt.settings.enabled:
            return
        state = GuardState(self._rt.profiles_for(ctx))
        ctx.guard = state
        self._g.rewrite(ctx, "input", request_slots(ctx.body, ctx.endpoint))
        state.pseudonyms.seal_input()

    async def on_finish(self, ctx: RequestContext) -> None:
        ctx.extra_events.extend(self._g.records(ctx))


class GuardOutput(Stage):
    """guard output: the answer (content and tool calls), incrementally for streams; restores
    pseudonymized values for the caller."""

    name = "guard output"

    def __init__(self, rt: GuardRuntime) -> None:
        self._g = _Guard(rt)
        self._rt = rt

    async def on_response(self, ctx: RequestContext) -> None:
        state: GuardState | None = ctx.guard
        if state is None or ctx.stream or ctx.response is None or ctx.endpoint == "embeddings":
            return
        slots = response_slots(ctx.response)
        self._g.rewrite(ctx, "output", slots)
        if state.pseudonyms.restorable:
            for slot in slots:
                if slot.text:
                    slot.set(state.pseudonyms.restore(slot.text))

    def on_chunk(self, ctx: RequestContext, event: dict[str, Any]) -> list[dict[str, Any]]:
        if ctx.guard is None:
            return [event]
        from steward.guard.stream_events import relay_event

        return relay_event(self, ctx, event)

    # used by stream_events
    def channel(
        self, ctx: RequestContext, key: tuple[Any, ...], location: str
    ) -> StreamChannel[Hit]:
        state: GuardState = ctx.guard
        ch = state.channels.get(key)
        if ch is None:
            g = self._g
            pseudo = state.pseudonyms

            def scan(text: str) -> list[Hit]:
                return g.hits(ctx, "output", text, location)

            def emit(text: str, hits: list[Hit]) -> str:
                if hits:
                    g.note(ctx, "output", location, text, hits)
                    stops = [(location, h) for h in hits if h.decision.action in _STOPPING]
                    if stops:
                        raise _policy_error("output", stops)
                    text = apply(text, hits, self._rt.keyed, pseudo)
                return pseudo.restore(text)

            ch = StreamChannel(
                scan,
                emit,
                max_hold=self._rt.settings.stream_max_hold,
                placeholder_tail=Pseudonyms.partial_tail if pseudo.restorable else None,
                hold=self._rt.stream_hold,
            )
            state.channels[key] = ch
        return ch
