"""Errors raised by the identity service. Front ends map them to HTTP statuses or CLI messages;
each message says what was wrong and what to do about it."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the service's errors. `code` is a stable machine-readable identifier."""

    code = "service_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class NotFound(ServiceError):
    """The referenced team, user, app, agent, service account or key does not exist."""

    code = "not_found"


class Conflict(ServiceError):
    """The change clashes with existing state (a duplicate name, a dependent record)."""

    code = "conflict"


class Invalid(ServiceError):
    """The request is well-formed but breaks a rule (unknown risk tier, wrong team, ...)."""

    code = "invalid"


__all__ = ["Conflict", "Invalid", "NotFound", "ServiceError"]
