"""What an agent receives when Steward stops or holds a tool call: a tool result with
`isError: true`, a sentence for the model in the text content, and a machine-readable object
under `_meta["steward/call"]`:

    {"status": "denied" | "pending_approval" | "approval_denied" | "rate_limited" |
               "quarantined" | "blocked" | "suspended" | "unavailable" | "failed",
     "code": "...", "message": "...", "tool": "<server>__<tool>", "request_id": "...",
     "approval_id": "...", "expires_at": "<ISO 8601>", "retry_after_s": 12.0, "policies": [...]}

(`approval_id` and `expires_at` with approvals, `retry_after_s` with rate limits.) A pending
approval is polled by repeating the same call with the same arguments: it answers
`pending_approval` with the same id until an approver decides, then runs the call once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

META_KEY = "steward/call"


@dataclass
class Stop(Exception):
    """A call that ends without (or after) reaching the upstream, as the agent will see it."""

    status: str
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def result(self, tool: str, request_id: str) -> types.CallToolResult:
        """The isError tool result carrying this stop."""
        meta = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "tool": tool,
            "request_id": request_id,
            **self.extra,
        }
        return types.CallToolResult(
            content=[types.TextContent(text=self.message)],
            is_error=True,
            _meta={META_KEY: meta},
        )


__all__ = ["META_KEY", "Stop"]
