"""Typed gateway errors and their wire shapes (OpenAI-style; Anthropic-shaped on /v1/messages)."""

from __future__ import annotations

from typing import Any

import orjson


class GatewayError(Exception):
    """An error the client should see: HTTP status, error type, machine code and a message that
    says what was wrong and what to do."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - the wire field is named type
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.headers = headers or {}

    def payload(self, wire: str, request_id: str) -> dict[str, Any]:
        err = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "request_id": request_id,
        }
        if wire == "anthropic":
            return {"type": "error", "error": err, "request_id": request_id}
        return {"error": err}

    def body(self, wire: str, request_id: str) -> bytes:
        return orjson.dumps(self.payload(wire, request_id))


def bad_request(message: str, code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, message, type="invalid_request_error", code=code)


def unauthorized(message: str, code: str = "invalid_api_key") -> GatewayError:
    return GatewayError(401, message, type="authentication_error", code=code)


def forbidden(message: str, code: str) -> GatewayError:
    return GatewayError(403, message, type="permission_error", code=code)


def not_found(message: str, code: str) -> GatewayError:
    return GatewayError(404, message, type="not_found_error", code=code)


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"request body exceeds the limit of {limit} bytes (server.max_body_bytes)",
        type="request_too_large",
        code="request_too_large",
    )


def method_not_allowed(method: str, path: str) -> GatewayError:
    return GatewayError(405, f"{method} is not allowed on {path}", code="method_not_allowed")
