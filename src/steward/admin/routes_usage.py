"""Admin API routes for usage reports and chargeback (read-only: auditors may call them).

Mounted through `create_admin_app(extra_routers=[usage_router(service)])`; the service carries
the store and the organisation's name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response

from steward.admin.errors import ApiError
from steward.usage import chargeback as cb
from steward.usage.output import iso, row_json, to_csv
from steward.usage.periods import PeriodError, floor_hour, parse_time
from steward.usage.reports import DIMENSIONS, Bucket, ReportError
from steward.usage.service import UsageReports

_CSV = "text/csv; charset=utf-8"
_BOTH: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}}, "description": "The report"}
}

By = Annotated[
    str,
    Query(description=f"Dimensions to group by, comma-separated: {', '.join(DIMENSIONS)}."),
]
Filters = Annotated[
    list[str] | None,
    Query(
        alias="filter",
        description="DIMENSION=VALUE (a name or id; `(none)` for absent); repeat for more. The "
        "same dimension twice means either value.",
    ),
]


def _bad(exc: ReportError | PeriodError | ValueError) -> ApiError:
    code = exc.code if isinstance(exc, ReportError) else "invalid_request"
    return ApiError(400, str(exc), code)


def _dims(by: str) -> list[str]:
    dims = [d.strip() for d in by.split(",") if d.strip()]
    if not dims:
        raise ApiError(400, "by: name at least one dimension, e.g. team", "invalid_request")
    return dims


def _filters(values: Sequence[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in values or ():
        dim, sep, value = item.partition("=")
        if not sep or not dim.strip():
            raise ApiError(
                400, f"filter '{item}' is not DIMENSION=VALUE (e.g. team=support)", "invalid_filter"
            )
        out.setdefault(dim.strip(), []).append(value.strip())
    return out


def _time(text: str | None, option: str) -> datetime | None:
    try:
        return None if text is None else parse_time(text, option=option)
    except PeriodError as exc:
        raise _bad(exc) from None


def usage_router(service: UsageReports) -> APIRouter:
    """The /usage routes over `service`."""
    router = APIRouter(tags=["usage"])

    @router.get("/usage/report", responses=_BOTH, response_class=Response)
    def usage_report(
        by: By = "team",
        since: Annotated[
            str, Query(description="Start: a duration back from now (30d, 12h), a date or a time.")
        ] = "30d",
        until: Annotated[
            str | None, Query(description="End (exclusive), like `since`. Default: now.")
        ] = None,
        bucket: Annotated[
            Literal["hour", "day", "month"] | None,
            Query(description="Split into UTC hours, days or months."),
        ] = None,
        filters: Filters = None,
        limit: Annotated[
            int | None, Query(ge=1, description="Only the N groups that cost most.")
        ] = None,
        format: Annotated[Literal["json", "csv"], Query(description="json or csv.")] = "json",  # noqa: A002
    ) -> Response:
        """Usage and cost per combination of dimensions (and per bucket), read from the
        rollups. Times are UTC, rounded out to whole hours. Cost covers priced requests;
        `unpriced_*` counts the rest. Latency percentiles are within 11.3%."""
        dims = _dims(by)
        start, end = _time(since, "since"), _time(until, "until")
        b: Bucket = bucket
        try:
            rows = service.report(dims, start, end, b, _filters(filters), limit)
        except ReportError as exc:
            raise _bad(exc) from None
        if format == "csv":
            return Response(to_csv(rows, dims, b is not None), media_type=_CSV)
        body = {
            "object": "usage.report",
            "organisation": service.organisation,
            "by": dims,
            "bucket": b,
            "since": iso(floor_hour(start)) if start is not None else None,
            "until": iso(end),
            "rows": [row_json(r) for r in rows],
        }
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get("/usage/chargeback", responses=_BOTH, response_class=Response)
    def usage_chargeback(
        month: Annotated[str, Query(description="YYYY-MM (UTC).")],
        by: By = "team",
        filters: Filters = None,
        format: Annotated[Literal["csv", "json"], Query(description="csv or json.")] = "csv",  # noqa: A002
    ) -> Response:
        """One month's cost per group (kind `charge`), then usage without a price (kind
        `unpriced`: requests and tokens, no cost), never hidden."""
        try:
            result = service.chargeback(month, _dims(by), _filters(filters))
        except ReportError as exc:
            raise _bad(exc) from None
        if format == "csv":
            name = f"chargeback-{result.month}.csv"
            return Response(
                cb.to_csv(result),
                media_type=_CSV,
                headers={"content-disposition": f'attachment; filename="{name}"'},
            )
        lines = [
            {
                "kind": ln.kind,
                "group": ln.group,
                "requests": ln.requests,
                "input_tokens": ln.input_tokens,
                "output_tokens": ln.output_tokens,
                "cost_usd": None if ln.cost_usd is None else float(ln.cost_usd),
            }
            for ln in result.lines
        ]
        body = {
            "object": "usage.chargeback",
            "month": result.month,
            "by": result.by,
            "total_usd": float(result.total_usd),
            "lines": lines,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    return router


__all__ = ["usage_router"]
