"""Rate limits: requests and tokens per minute per key, user, team, app, agent and model, as
sliding windows counted across every gateway process (Redis) or in one process."""

from steward.usage.ratelimit.rules import SCOPES, AppliedLimit, applicable
from steward.usage.ratelimit.window import duration, reset_ms, retry_after_ms, used

__all__ = [
    "SCOPES",
    "AppliedLimit",
    "applicable",
    "duration",
    "reset_ms",
    "retry_after_ms",
    "used",
]
