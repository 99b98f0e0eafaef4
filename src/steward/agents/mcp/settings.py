"""The `mcp:` section of the configuration: the upstream MCP servers the gateway aggregates at
`/mcp`, how long it waits for them, rate limits per agent and tool, and tool pinning."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SERVER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


class McpServerConfig(BaseModel):
    """One upstream MCP server: Streamable HTTP (`url`) or a child process over stdio
    (`command`)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="Streamable HTTP endpoint, e.g. http://host/mcp.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="HTTP headers sent upstream (use ${ENV} for credentials).",
    )
    command: str | None = Field(None, description="stdio: the program to start.")
    args: list[str] = Field(default_factory=list, description="stdio: its arguments.")
    env: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="stdio: environment variables added to a minimal safe environment.",
    )
    cwd: str | None = Field(None, description="stdio: working directory.")
    connect_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Connecting (and starting) the server may take this long."
    )
    call_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="One tools/call may take this long upstream."
    )
    list_timeout_s: float = Field(
        10.0, gt=0, le=300, description="One tools/list may take this long."
    )
    guard_profile: str | None = Field(
        None, description="An extra guard profile for this server's calls and results."
    )
    enabled: bool = Field(True, description="false: configured but not connected.")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of url (Streamable HTTP) or command (stdio)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https:// (got '{self.url}')")
        if self.command is not None and self.headers:
            raise ValueError("headers apply to url servers only; use env for stdio servers")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("args, env and cwd apply to command (stdio) servers only")
        return self

    @property
    def transport(self) -> Literal["http", "stdio"]:
        return "http" if self.url is not None else "stdio"


class McpRateLimit(BaseModel):
    """Calls per minute for each principal of a scope (or the one named), per tool (or the
    tools matching `tool`, a glob on the namespaced name, counted together)."""

    model_config = ConfigDict(extra="forbid")

    scope: Literal["key", "user", "team", "app", "agent"] = "agent"
    name: str | None = Field(
        None, description="The principal's name or id; omit for every one of the scope."
    )
    tool: str = Field("*", description="Glob on the namespaced tool name, e.g. crm__*.")
    rpm: int = Field(ge=1, description="Tool calls per minute.")
    per_tool: bool = Field(
        True, description="Count each matching tool separately (false: all together)."
    )


class McpSettings(BaseModel):
    """The MCP gateway at /mcp."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True, description="Serve /mcp (with no servers configured it answers 404)."
    )
    servers: dict[str, McpServerConfig] = Field(
        default_factory=dict,
        description="Upstream servers by name; a tool `t` of server `s` is listed as `s__t`.",
    )
    new_tools: Literal["pin", "quarantine"] = Field(
        "pin",
        description="A tool seen for the first time is pinned and usable (pin) or held until "
        "an admin approves it (quarantine). Changed tools and shadowing names are always "
        "quarantined.",
    )
    refresh_s: float = Field(
        60.0, gt=0, le=86_400, description="Re-list every upstream's tools this often."
    )
    list_max_age_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="An agent's tools/list re-lists upstream tools older than this (0: always).",
    )
    reconnect_max_s: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between reconnection attempts."
    )
    approval_wait_s: float | None = Field(
        None,
        ge=0,
        le=3600,
        description="A call that needs human approval waits this long for the decision, then "
        "answers with a pending status and the approval id (0: at once); default "
        "approvals.wait_s.",
    )
    guard_profile: str | None = Field(
        None, description="An extra guard profile applied to every tool call and result."
    )
    rate_limits: list[McpRateLimit] = Field(default_factory=list)
    max_result_chars: int = Field(
        1_000_000, ge=1000, description="Longest result text scanned and returned."
    )
    session_idle_timeout_s: float = Field(
        1800.0, gt=0, le=86_400, description="A session with no request for this long is closed."
    )

    @model_validator(mode="after")
    def _names(self) -> McpSettings:
        for name in self.servers:
            if not SERVER_NAME.match(name):
                raise ValueError(
                    f"mcp.servers: '{name}' is not a valid server name: use 1-32 lowercase "
                    "letters, digits and dashes (it prefixes tool names as name__tool)"
                )
        return self


__all__ = ["McpRateLimit", "McpServerConfig", "McpSettings"]
