"""Budgets and rate limits on the request path: reserve before the upstream call, settle after.

Before the call, one atomic check-and-reserve over every counter that applies: each rate limit
(requests, and estimated input tokens, per minute) and each budget (the request's maximum cost:
estimated input tokens x input price + max_tokens, or `budgets.default_max_output_tokens`,
x output price, on the primary deployment). A hard budget refuses when

    spent + reserved >= amount   or   spent + reserved + this request's maximum > amount

so that, as long as requests cost no more than their reservation, spend never passes the amount.
After the call the reservation is replaced by the actual cost (nothing when the upstream was not
reached, or the model has no price) and token counters are corrected to the reported usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from steward.events.attribution import delegation_fields
from steward.gateway.errors import GatewayError
from steward.usage.budgets.ledger import ledger_buckets, ledger_spend
from steward.usage.budgets.periods import Span, iso, span
from steward.usage.budgets.spec import BudgetSpec, from_nano, to_nano
from steward.usage.counters.base import Alert, BudgetSlot, Counters, Outcome, RateSlot
from steward.usage.counters.memory import MemoryCounters
from steward.usage.counters.redis import RedisCounters
from steward.usage.limits import errors
from steward.usage.limits._rates import WINDOW_MS, limit_of, rate_headers, rate_slots
from steward.usage.limits.backends import REDIS_ERRORS, Backends, redis_where
from steward.usage.limits.events import budget_payload, exhausted_row, threshold_row
from steward.usage.limits.plan import (
    BudgetIndex,
    Plan,
    input_tokens,
    make_plan,
    max_cost,
    max_output_tokens,
)
from steward.usage.limits.settings import BudgetSettings, RateLimitConfig
from steward.usage.ratelimit.window import retry_after_ms

if TYPE_CHECKING:
    from steward.events.sink import EventSink
    from steward.gateway.context import Deployment, RequestContext
    from steward.identity.snapshot import Principal, Snapshot
    from steward.usage.pricing import Pricer

log = logging.getLogger("steward.limits")

_KEEP_S = 3600  # counters outlive their period by the lease time and this margin
_PLAN_CACHE = 50_000
_SEED_RETRY_S = 30.0


@dataclass(slots=True)
class Reservation:
    """What the limit stage holds for a request between reserve and settle."""

    backend: Counters
    budgets: tuple[BudgetSpec, ...]
    slots: list[BudgetSlot]
    spans: list[Span]
    cost: int  # nano-USD reserved in each budget
    lease_minute: int
    tokens: list[tuple[str, int]]  # token counters charged (key, window)
    tokens_in: int  # estimated input tokens counted in them


@dataclass(slots=True)
class _Settlement:
    res: Reservation
    actual: int  # nano-USD
    delta: int  # tokens to add to the token counters
    request_id: str


class Limits:
    """The process's budgets and rate limits: snapshot indexes, counters and alerts."""

    def __init__(
        self,
        settings: BudgetSettings,
        rules: Sequence[RateLimitConfig],
        routes: dict[str, list[Deployment]],
        pricer: Pricer,
        sessions: sessionmaker[Session],
        *,
        redis_url: str | None = None,
        sink: EventSink | None = None,
        hooks: object = None,
        clock: Callable[[], float] = time.time,
        workers: int = 1,
    ) -> None:
        self.settings = settings
        self._workers = workers
        self.rules = tuple(rules)
        self._routes = routes
        self._pricer = pricer
        self._sessions = sessions
        self._sink = sink
        self._hooks = hooks  # the Gateway: its optional `notify` and `metrics`
        self._clock = clock
        self._lease_minutes = -(-settings.reservation_ttl_s // 60)
        for rule in self.rules:
            if rule.scope == "model" and rule.name and rule.name not in routes:
                log.warning("rate_limits: model '%s' is not a configured model alias", rule.name)
        redis = (
            RedisCounters(redis_url, settings.redis_timeout_ms / 1000, settings.redis_prefix)
            if redis_url
            else None
        )
        self.backends = Backends(
            MemoryCounters(clock),
            redis,
            mode=settings.redis_failure,
            retry_s=settings.redis_retry_s,
            where=redis_where(redis_url) if redis_url else "",
            emit=self._emit_now,
            clock=clock,
        )
        self._index = BudgetIndex(())
        self._names: dict[str, str] = {}
        self._plans: dict[tuple[str, str | None], Plan] = {}
        self._slots: dict[str, tuple[float, BudgetSlot, Span]] = {}
        self._marked: set[str] = set()  # exhaustion marks known to be set (skip asking again)
        self._alerts: dict[str, tuple[int, list[Alert]]] = {}  # counter -> (amount, pending)
        self._gauged: dict[str, float] = {}  # counter -> when its usage gauge is next updated
        self._seeding: set[str] = set()  # counters seeded (or being seeded) by this process
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- snapshot and lifecycle ------------------------------------------------------------

    def on_snapshot(self, snap: Snapshot) -> None:
        """A new snapshot: budgets and names may have changed; plans are rebuilt lazily."""
        self._index = BudgetIndex(getattr(snap, "budgets", ()))
        self._names = snap.names
        self._plans = {}
        self._slots = {}

    @property
    def active(self) -> bool:
        return bool(self.rules or self._index.all)

    async def start(self) -> None:
        """Seed the in-process counters from the ledger (single node); check Redis (scale)."""
        redis = self.backends.redis
        if redis is None:
            if self.active and self._workers > 1:
                log.warning(
                    "budgets and rate limits are counted per worker process (server.workers=%d "
                    "and no redis_url): each worker enforces every limit on its own",
                    self._workers,
                )
            await self._seed_all()
            return
        try:
            await redis.ping()
        except REDIS_ERRORS as exc:
            self.backends.failed(exc)

    async def _seed_all(self) -> None:
        now = self._clock()
        jobs = []
        for spec in self._index.all:
            slot, sp = self._slot(spec, now)
            self._seeding.add(slot.key)
            jobs.append((spec, slot, sp))
        if not jobs:
            return
        try:
            amounts = await asyncio.to_thread(self._ledger_many, jobs, now)
        except SQLAlchemyError as exc:
            log.warning("could not read budget spend from the ledger at start: %s", exc)
            for _, slot, _ in jobs:
                self._seeding.discard(slot.key)
            return
        memory = self.backends.memory
        for (spec, slot, _), found in zip(jobs, amounts, strict=True):
            if await memory.seed(slot, found, int(now * 1000)):
                await self._passed(spec, slot, sum(found.values()), memory)

    async def stop(self) -> None:
        """Let pending event writes finish (briefly), cancel the rest, close Redis."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.backends.aclose()

    # -- the request path ------------------------------------------------------------------

    def plan(self, ctx: RequestContext) -> Plan:
        p = ctx.principal
        assert p is not None, "the limit stage runs after authenticate"
        cache_key = (p.key_id, ctx.model_alias)
        plan = self._plans.get(cache_key)
        if plan is None:
            if len(self._plans) > _PLAN_CACHE:
                self._plans = {}
            primary = ctx.route[0] if ctx.route else None
            plan = make_plan(
                self._index, self.rules, self._names, p, ctx.model_alias, primary, self._pricer
            )
            self._plans[cache_key] = plan
        return plan

    async def reserve(self, ctx: RequestContext) -> Reservation | None:
        """Check every rate limit and budget that applies and reserve; raise 429 (or 503)."""
        plan = self.plan(ctx)
        if plan.empty:
            return None
        now = self._clock()
        now_ms = int(now * 1000)
        tokens_in = input_tokens(ctx) if plan.counts_tokens or plan.priced else 0
        cost = 0
        if plan.budgets and plan.priced:
            out = max_output_tokens(ctx, self.settings.default_max_output_tokens)
            cost = max_cost(plan, tokens_in, out)
        rates = rate_slots(plan, tokens_in, now_ms)
        pairs = [self._slot(spec, now) for spec in plan.budgets]
        slots = [slot for slot, _ in pairs]
        lease = self._lease_minutes

        async def op(c: Counters) -> Outcome:
            return await c.admit(rates, slots, cost, now_ms, lease)

        outcome, backend = await self.backends.run(op)
        ctx.response_headers += rate_headers(rates, outcome)
        if not outcome.ok:
            raise await self._refusal(ctx, plan, rates, pairs, outcome, cost, now)
        self._seed_missing(plan.budgets, pairs, outcome, backend)
        return Reservation(
            backend=backend,
            budgets=plan.budgets,
            slots=slots,
            spans=[sp for _, sp in pairs],
            cost=cost,
            lease_minute=now_ms // 60_000,
            tokens=[(r.key, r.window) for r in rates if r.key.endswith(":t")],
            tokens_in=tokens_in,
        )

    async def settle(self, ctx: RequestContext, res: Reservation) -> None:
        """Replace the reservation by the actual cost; correct token counts; send alerts.

        In-process counters settle at once and their alerts are recorded with the request's
        events. With Redis the settlement runs after the response (it is not on the client's
        path; its alerts are recorded on their own): until then the reservation still holds."""
        usage = ctx.usage
        if usage is not None:
            delta = usage.input_tokens + usage.output_tokens - res.tokens_in
        else:
            delta = -res.tokens_in if ctx.attempts == 0 else 0
        job = _Settlement(res, self._actual_cost(ctx, res), delta, ctx.request_id)
        if res.backend is self.backends.memory:
            ctx.extra_events += await self._settle(job)
        else:
            self._spawn(self._settle_later(job))

    async def _settle_later(self, job: _Settlement) -> None:
        records = await self._settle(job)
        if records and self._sink is not None:
            await self._sink.emit(*records)

    async def _settle(self, job: _Settlement) -> list[dict[str, Any]]:
        """Settle one reservation; return the audit records of the thresholds it crossed."""
        res = job.res
        alerts = [
            self._pending(spec, slot) for spec, slot in zip(res.budgets, res.slots, strict=True)
        ]
        now_ms = int(self._clock() * 1000)
        try:
            settled = await res.backend.settle(
                res.slots,
                res.cost,
                job.actual,
                res.lease_minute,
                now_ms,
                self._lease_minutes,
                res.tokens if job.delta else [],
                job.delta,
                alerts,
            )
        except REDIS_ERRORS as exc:
            # the reservation lapses on its own (its lease); the actual spend is not counted
            self.backends.failed(exc)
            return []
        for j, spent in enumerate(settled.spent):
            slot = res.slots[j]
            pending = alerts[j]
            if pending and spent >= pending[0].threshold:
                self._alerts[slot.key] = (slot.amount, [a for a in pending if spent < a.threshold])
            self._usage_metric(res.budgets[j].name, slot, spent)
        records = []
        for j, pct in settled.crossed:
            spec, sp = res.budgets[j], res.spans[j]
            payload = budget_payload(spec, settled.spent[j], sp.start, sp.end, pct)
            records.append(_audit(self._sink, threshold_row(payload, job.request_id)))
            await self._notify("budget.threshold", payload)
        return records

    def _actual_cost(self, ctx: RequestContext, res: Reservation) -> int:
        dep = ctx.deployment
        if ctx.usage is None or dep is None:
            # never sent, or failed: nothing to pay; answered without usage: the reservation
            return res.cost if ctx.attempts and ctx.error is None else 0
        cost = ctx.cost_usd
        if cost is None:
            cost, _ = self._pricer.cost(dep.model, dep.provider_name, dep.provider, ctx.usage)
        return to_nano(cost) if cost is not None and cost > 0 else 0

    # -- budgets status (self-service) -----------------------------------------------------

    async def budget_status(self, principal: Principal) -> list[dict[str, Any]]:
        """Every budget that binds `principal`: amount, spend, reservations, what remains and
        when its period resets (amounts in USD, times in ISO 8601 UTC)."""
        specs = self._index.for_principal(principal)
        if not specs:
            return []
        now = self._clock()
        now_ms = int(now * 1000)
        pairs = [self._slot(spec, now) for spec in specs]
        slots = [slot for slot, _ in pairs]

        async def peek(c: Counters) -> Any:
            return await c.peek(slots, now_ms, self._lease_minutes)

        async def read() -> tuple[Any, Counters]:
            try:
                return await self.backends.run(peek)
            except GatewayError:  # Redis down and fail_closed: this process's (ledger) view
                memory = self.backends.memory
                return await peek(memory), memory

        states, backend = await read()
        missing = [j for j, st in enumerate(states) if not st.seeded]
        for j in missing:
            await self._seed(specs[j], slots[j], states[j].created_ms, backend)
        if missing:
            states, _ = await read()
        out = []
        for spec, (slot, sp), st in zip(specs, pairs, states, strict=True):
            left = max(0, slot.amount - st.spent - st.reserved)
            out.append(
                {
                    "name": spec.name,
                    "scope": spec.scope,
                    "target": spec.target_name,
                    "model": spec.model,
                    "provider": spec.provider,
                    "amount_usd": float(spec.amount_usd),
                    "spent_usd": float(from_nano(st.spent)),
                    "reserved_usd": float(from_nano(st.reserved)),
                    "remaining_usd": float(from_nano(left)),
                    "period": spec.period,
                    "window_s": spec.window_s,
                    "period_start": iso(sp.start),
                    "resets_at": iso(_resets(sp, st.oldest)),
                    "hard": spec.hard,
                }
            )
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _pending(self, spec: BudgetSpec, slot: BudgetSlot) -> list[Alert]:
        """The budget's alert thresholds this process has not yet seen passed (ascending)."""
        known = self._alerts.get(slot.key)
        if known is None or known[0] != slot.amount:
            alerts = [Alert(pct, -(-slot.amount * pct // 100)) for pct in spec.alerts]
            known = self._alerts[slot.key] = (slot.amount, alerts)
            if len(self._alerts) > 100_000:
                self._alerts = {slot.key: known}
        return known[1]

    def _usage_metric(self, name: str, slot: BudgetSlot, spent: int) -> None:
        """The budget-usage gauge, at most once a second per budget (off the hot path's cost)."""
        now = self._clock()
        if now < self._gauged.get(slot.key, 0.0):
            return
        self._gauged[slot.key] = now + 1.0
        self._metric("budget_usage", name, spent / slot.amount)

    def _slot(self, spec: BudgetSpec, now: float) -> tuple[BudgetSlot, Span]:
        cached = self._slots.get(spec.id)
        if cached is not None and now < cached[0]:
            return cached[1], cached[2]
        sp = span(spec.period, spec.window_s, now)
        lease_s = self._lease_minutes * 60
        if sp.rolling:
            key = f"b:{spec.id}:roll"
            expire_at = sp.end + sp.buckets * sp.bucket_s + lease_s + _KEEP_S
        else:
            key = f"b:{spec.id}:{sp.start}"
            expire_at = sp.end + lease_s + _KEEP_S
        slot = BudgetSlot(
            key=key,
            amount=spec.amount_nano,
            hard=spec.hard,
            bucket_s=sp.bucket_s,
            buckets=sp.buckets,
            expire_at=expire_at,
            marks=f"bt:{key[2:]}",
        )
        self._slots[spec.id] = (float(sp.end), slot, sp)
        return slot, sp

    async def _refusal(
        self,
        ctx: RequestContext,
        plan: Plan,
        rates: list[RateSlot],
        pairs: list[tuple[BudgetSlot, Span]],
        outcome: Outcome,
        cost: int,
        now: float,
    ) -> GatewayError:
        i = outcome.refused
        if i < len(rates):
            slot = rates[i]
            limit = limit_of(plan, slot)
            prev, cur = outcome.rates[i]
            wait = retry_after_ms(slot.limit, slot.cost, prev, cur, slot.elapsed_ms, WINDOW_MS)
            tokens = slot.key.endswith(":t")
            self._metric("rate_limited", limit.scope, "tokens" if tokens else "requests")
            return errors.rate_limited(limit, tokens, slot.limit, slot.cost, wait)
        j = i - len(rates)
        spec = plan.budgets[j]
        bslot, sp = pairs[j]
        st = outcome.budgets[j]
        resets = _resets(sp, st.oldest)
        err = errors.budget_exceeded(spec, st.spent, st.reserved, cost, resets, now)
        self._metric("budget_rejected", spec.name)
        await self._exhausted(ctx, spec, bslot, sp, st.spent, err.message)
        return err

    async def _exhausted(
        self,
        ctx: RequestContext,
        spec: BudgetSpec,
        slot: BudgetSlot,
        sp: Span,
        spent: int,
        message: str,
    ) -> None:
        """The first refusal of a budget in its period: an audit event and a notification."""
        mark = f"{slot.marks}:exhausted"
        if mark in self._marked:
            return
        backend = self.backends.active()
        try:
            first = backend is not None and await backend.mark(mark, slot.expire_at)
        except REDIS_ERRORS as exc:
            self.backends.failed(exc)
            return
        self._remember_mark(mark)
        if not first:
            return
        payload = budget_payload(spec, spent, sp.start, _resets(sp, 0), None)
        row = exhausted_row(payload, message, ctx.request_id)
        row.update(delegation_fields(ctx.principal))  # the agent whose request hit the limit
        ctx.extra_events.append(_audit(self._sink, row))
        await self._notify("budget.exhausted", {**payload, "message": message})

    async def _passed(
        self, spec: BudgetSpec, slot: BudgetSlot, spent: int, backend: Counters
    ) -> None:
        """Thresholds the ledger's spend had already passed were crossed before this counter
        existed (e.g. before a restart): mark them without alerting again."""
        pending = self._pending(spec, slot)
        for alert in pending:
            if spent >= alert.threshold:
                await backend.mark(f"{slot.marks}:{alert.percent}", slot.expire_at)
        self._alerts[slot.key] = (slot.amount, [a for a in pending if spent < a.threshold])

    def _remember_mark(self, mark: str) -> None:
        if len(self._marked) > 100_000:
            self._marked.clear()
        self._marked.add(mark)

    def _seed_missing(
        self,
        specs: tuple[BudgetSpec, ...],
        pairs: list[tuple[BudgetSlot, Span]],
        outcome: Outcome,
        backend: Counters,
    ) -> None:
        for spec, (slot, _), st in zip(specs, pairs, outcome.budgets, strict=True):
            if st.seeded or slot.key in self._seeding:
                continue
            self._seeding.add(slot.key)
            self._spawn(self._seed(spec, slot, st.created_ms, backend))

    async def _seed(
        self, spec: BudgetSpec, slot: BudgetSlot, before_ms: int, backend: Counters
    ) -> None:
        """Add the ledger's spend from before the counter existed, once per counter."""
        self._seeding.add(slot.key)
        before = before_ms / 1000
        try:
            found = await asyncio.to_thread(
                self._ledger_many,
                [(spec, slot, span(spec.period, spec.window_s, before))],
                before,
            )
            if await backend.seed(slot, found[0], int(self._clock() * 1000)):
                await self._passed(spec, slot, sum(found[0].values()), backend)
        except (TimeoutError, SQLAlchemyError, RedisError, OSError) as exc:
            log.warning("could not seed budget '%s' from the ledger: %s", spec.name, exc)
            loop = asyncio.get_running_loop()
            loop.call_later(_SEED_RETRY_S, self._seeding.discard, slot.key)
        if len(self._seeding) > 100_000:
            self._seeding.clear()

    def _ledger_many(
        self, jobs: list[tuple[BudgetSpec, BudgetSlot, Span]], before: float
    ) -> list[dict[int, int]]:
        """Ledger spend (nano-USD) of each budget's current period before `before`; per bucket
        for rolling windows. One session for all of them; runs in a thread."""
        out: list[dict[int, int]] = []
        with self._sessions() as s:
            for spec, slot, sp in jobs:
                if slot.bucket_s:
                    found = ledger_buckets(s, spec, sp.start, before, slot.bucket_s)
                    out.append({b: to_nano(v) for b, v in found.items() if v > 0})
                else:
                    total = ledger_spend(s, spec, sp.start, before)
                    out.append({0: to_nano(total)} if total > 0 else {})
        return out

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit_now(self, row: dict[str, Any]) -> None:
        """Record an audit event off the request path (Redis outages and recoveries)."""
        sink = self._sink
        if sink is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._spawn(sink.emit(sink.audit_record(row)))

    async def _notify(self, event: str, payload: dict[str, Any]) -> None:
        notify = getattr(self._hooks, "notify", None)
        if notify is None:
            return
        try:
            result = notify(event, payload)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a notification must never fail the request
            log.exception("notification %s failed", event)

    def _metric(self, name: str, *args: Any) -> None:
        metrics = getattr(self._hooks, "metrics", None)
        fn = getattr(metrics, name, None)
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("metric %s failed", name)


def _audit(sink: EventSink | None, row: dict[str, Any]) -> dict[str, Any]:
    if sink is not None:
        return sink.audit_record(row)
    return {"kind": "audit", "row": row}


def _resets(sp: Span, oldest: int) -> int:
    """When a budget's spend resets: the period's end, or (rolling) when its oldest live
    bucket leaves the window."""
    if not sp.rolling:
        return sp.end
    first = max(oldest, sp.bucket - sp.buckets + 1)
    return (first + sp.buckets) * sp.bucket_s


__all__ = ["Limits", "Reservation"]
