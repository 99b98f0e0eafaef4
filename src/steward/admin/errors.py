"""OpenAI-style error bodies for the admin API: `{"error": {"message", "type", "code"}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from steward.identity.errors import Conflict, Invalid, NotFound, ServiceError

log = logging.getLogger("steward.admin")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    422: "invalid_request_error",
    500: "api_error",
}
_SERVICE_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
)


class ApiError(Exception):
    """An error raised by the admin API itself (authentication, authorization)."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def error_response(status: int, message: str, code: str | None) -> JSONResponse:
    body = {"error": {"message": message, "type": _TYPES.get(status, "api_error"), "code": code}}
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, parts = parts[0], parts[1:]
        return ".".join(parts) if parts else f"the request {where}"
    return ".".join(parts) or "the request"


def describe_validation(errors: list[Any]) -> str:
    """One readable line naming each offending field and what it should be."""
    lines: list[str] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            lines.append("the request body is not valid JSON; send a JSON object")
            continue
        msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        if err.get("type") == "missing" and loc == ("body",):
            lines.append("the request body is missing; send a JSON object")
            continue
        lines.append(f"{_field(loc)}: {msg[:1].lower() + msg[1:]}")
    return "invalid request: " + "; ".join(lines or ["the request is not valid"])


async def _service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    status = next((s for cls, s in _SERVICE_STATUS if isinstance(exc, cls)), 400)
    return error_response(status, exc.message, exc.code)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.code)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, describe_validation(list(exc.errors())), "invalid_request")


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = "no such admin API endpoint; see /docs for the available routes"
        return error_response(404, message, "unknown_endpoint")
    if exc.status_code == 405:
        return error_response(405, "this method is not allowed on this path", "method_not_allowed")
    return error_response(exc.status_code, str(exc.detail), None)


async def _store_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("admin API: the store is unreachable: %s", exc)
    return error_response(
        503,
        "the configuration store is unreachable; the gateway keeps serving known keys, but "
        "admin changes must wait until it is back",
        "store_unavailable",
    )


async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("admin API internal error", exc_info=exc)
    return error_response(500, "internal error; see the server log", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # specific handlers run inside the middleware (request id kept, connection kept alive)
    app.add_exception_handler(OperationalError, _store_unavailable)
    app.add_exception_handler(Exception, _internal_error)
