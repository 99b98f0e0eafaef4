"""Tool namespacing: upstream tool `t` of server `s` is offered to agents as `s__t`.

The separator is a double underscore because the result must stay a valid MCP tool name
(SEP-986: `[A-Za-z0-9._-]{1,128}`) *and* a valid function name for model APIs that agents hand
tools to (OpenAI and Anthropic allow `[A-Za-z0-9_-]`, no dot). Server names are lowercase
letters, digits and dashes, so the first `__` always ends the server name.
"""

from __future__ import annotations

import re

SEPARATOR = "__"
MAX_LENGTH = 128
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class ToolNameError(ValueError):
    """A tool name that cannot be namespaced or split."""


def namespaced(server: str, tool: str) -> str:
    """The name agents see for `tool` of `server`; ToolNameError when it would be invalid."""
    name = f"{server}{SEPARATOR}{tool}"
    if not tool or not _VALID.match(name):
        raise ToolNameError(
            f"tool '{tool}' of server '{server}' cannot be offered as '{name}': MCP tool names "
            f"are 1-{MAX_LENGTH} letters, digits, '_', '-' or '.'"
        )
    return name


def split(name: str) -> tuple[str, str]:
    """(server, upstream tool) of a namespaced name; ToolNameError when it has no server."""
    server, sep, tool = name.partition(SEPARATOR)
    if not sep or not server or not tool:
        raise ToolNameError(
            f"unknown tool '{name}': tools are named <server>{SEPARATOR}<tool>; "
            "call tools/list to see the ones you may call"
        )
    return server, tool


def shadow_key(tool: str) -> str:
    """What two tool names are compared on to detect shadowing: case, dashes, dots and
    underscores ignored (`Send-Email` shadows `send_email`)."""
    return re.sub(r"[-_.]+", "", tool).casefold()


__all__ = ["MAX_LENGTH", "SEPARATOR", "ToolNameError", "namespaced", "shadow_key", "split"]
