"""Admin API read routes for evaluation: records (live and from dataset runs), runs, a run's
items, and the comparison of two runs. Read-only: auditors may call them.

Mounted through `create_admin_app(extra_routers=[evals_router(EvalQueries(sessions))])`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from steward.admin.errors import ApiError
from steward.evals.queries import MAX_LIMIT, EvalQueries, NotFound, RecordFilter
from steward.usage.periods import PeriodError, parse_time


def _time(text: str | None, option: str) -> datetime | None:
    try:
        return None if text is None else parse_time(text, option=option)
    except PeriodError as exc:
        raise ApiError(400, str(exc), "invalid_request") from None


def _not_found(exc: NotFound) -> ApiError:
    return ApiError(404, str(exc), "not_found")


def evals_router(queries: EvalQueries) -> APIRouter:
    """The /evaluations routes over `queries`."""
    router = APIRouter(tags=["evaluation"])

    @router.get("/evaluations/records")
    def list_records(
        app: Annotated[str | None, Query(description="App name or id.")] = None,
        model: Annotated[str | None, Query(description="Model alias.")] = None,
        name: Annotated[str | None, Query(description="Evaluator name.")] = None,
        label: Annotated[Literal["pass", "fail", "error"] | None, Query()] = None,
        request_id: Annotated[str | None, Query()] = None,
        run_id: Annotated[str | None, Query(description="Records of one dataset run.")] = None,
        source: Annotated[
            Literal["all", "live", "runs"], Query(description="Live samples, dataset runs, or all.")
        ] = "all",
        since: Annotated[
            str | None, Query(description="A duration back (24h), date or time.")
        ] = None,
        until: Annotated[str | None, Query(description="End (exclusive); default now.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        """Evaluation records, newest first, shaped after `gen_ai.evaluation.result`."""
        live = {"all": None, "live": True, "runs": False}[source]
        f = RecordFilter(
            app=app,
            model=model,
            name=name,
            label=label,
            request_id=request_id,
            run_id=run_id,
            live=live,
            since=_time(since, "since"),
            until=_time(until, "until"),
            limit=limit,
        )
        try:
            return {"records": queries.records(f)}
        except NotFound as exc:
            raise _not_found(exc) from None

    @router.get("/evaluations/runs")
    def list_runs(
        model: Annotated[str | None, Query(description="Model alias.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> dict[str, Any]:
        """Dataset runs, newest first, with per-evaluator pass rates."""
        return {"runs": queries.runs(limit=limit, model=model)}

    @router.get("/evaluations/runs/{run_id}")
    def get_run(
        run_id: str,
        items: Annotated[bool, Query(description="Include each item and its records.")] = False,
    ) -> dict[str, Any]:
        """One run (id or unique prefix of at least 6 characters)."""
        try:
            return queries.run(run_id, items=items)
        except NotFound as exc:
            raise _not_found(exc) from None

    @router.get("/evaluations/runs/{run_a}/compare/{run_b}")
    def compare_runs(run_a: str, run_b: str) -> dict[str, Any]:
        """Per-evaluator metrics of both runs and their deltas (B minus A)."""
        try:
            return queries.compare(run_a, run_b)
        except NotFound as exc:
            raise _not_found(exc) from None

    return router
