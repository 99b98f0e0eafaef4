"""The aggregated tool catalogue: every upstream server's tools under their namespaced names,
each with the hash of its definition and its pin. A tool is offered to agents only while its
current definition is the approved one (see `pinning`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import mcp_types as types
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from steward.agents.mcp.names import ToolNameError, namespaced
from steward.agents.mcp.pinning import Pin, PinKey, definition, tool_hash
from steward.agents.mcp.store import SECTION_NAME, record_listing

if TYPE_CHECKING:
    from steward.agents.mcp.upstream import Upstream
    from steward.identity.snapshot import Snapshot

log = logging.getLogger("steward.mcp")


@dataclass(frozen=True, slots=True)
class Entry:
    """One upstream tool as agents see it."""

    name: str  # namespaced: <server>__<tool>
    server: str
    upstream_name: str
    hash: str
    listed: types.Tool  # the upstream definition under the namespaced name


class Catalog:
    """Namespaced tools of every server, and their pins (snapshot plus this process's own
    writes that the snapshot has not caught up with yet)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        snapshot: Callable[[], Snapshot],
        new_tools: Literal["pin", "quarantine"],
    ) -> None:
        self._sessions = sessions
        self._snapshot = snapshot
        self._new_tools = new_tools
        self._by_server: dict[str, dict[str, Entry]] = {}
        self.entries: dict[str, Entry] = {}
        self._overlay: dict[PinKey, tuple[Pin, int]] = {}  # pin, state version publishing it

    def _entries_of(self, server: str, tools: list[types.Tool]) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for tool in tools:
            try:
                name = namespaced(server, tool.name)
            except ToolNameError as exc:
                log.warning("MCP server '%s': %s; the tool is not offered", server, exc)
                continue
            defn = definition(tool.name, tool.description, tool.input_schema)
            listed = tool.model_copy(update={"name": name})
            out[tool.name] = Entry(name, server, tool.name, tool_hash(defn), listed)
        return out

    async def on_tools(self, upstream: Upstream, tools: list[types.Tool]) -> None:
        """A fresh listing of `upstream`: index it and pin what is new or changed."""
        server = upstream.name
        entries = self._entries_of(server, tools)
        if all(
            (pin := self.pin(e)) is not None and pin.current_hash == e.hash
            for e in entries.values()
        ):  # nothing new or changed: no write
            self._install(server, entries)
            return
        definitions = {
            n: definition(e.upstream_name, e.listed.description, e.listed.input_schema)
            for n, e in entries.items()
        }
        hashes = {n: e.hash for n, e in entries.items()}
        try:
            _, changes, version = await asyncio.to_thread(
                record_listing, self._sessions, server, definitions, hashes, self._new_tools
            )
        except SQLAlchemyError as exc:
            log.warning(
                "could not record the tools of MCP server '%s' (the store is unavailable: %s); "
                "new or changed tools stay unusable until it is back",
                server,
                exc.__class__.__name__,
            )
        else:
            for change in changes:
                if version is not None:
                    self._overlay[(change.pin.server, change.pin.name)] = (change.pin, version)
                if change.event == "quarantine":
                    log.warning(
                        "MCP tool %s__%s is quarantined: %s",
                        change.pin.server,
                        change.pin.name,
                        change.pin.detail,
                    )
        self._install(server, entries)

    def _install(self, server: str, entries: dict[str, Entry]) -> None:
        self._by_server[server] = entries
        self.entries = {e.name: e for es in self._by_server.values() for e in es.values()}

    def forget(self, server: str) -> None:
        """Drop a server's tools (it is down: nothing of it can be called)."""
        if server in self._by_server:
            del self._by_server[server]
            self.entries = {e.name: e for es in self._by_server.values() for e in es.values()}

    def pin(self, entry: Entry) -> Pin | None:
        """The tool's pin: the snapshot's, unless this process wrote a newer one."""
        snap = self._snapshot()
        key = (entry.server, entry.upstream_name)
        mine = self._overlay.get(key)
        if mine is not None:
            if snap.version < mine[1]:
                return mine[0]
            del self._overlay[key]
        pin: Pin | None = snap.section(SECTION_NAME).get(key)
        return pin

    def usable(self, entry: Entry) -> tuple[bool, str | None]:
        """Whether agents may see and call the tool now, and if not, why."""
        pin = self.pin(entry)
        if pin is None:
            return False, (
                f"tool {entry.name} is not pinned yet (the store was unavailable when it was "
                "first seen); it becomes usable once it is recorded"
            )
        if pin.usable(entry.hash):
            return True, None
        why = pin.detail or "its definition differs from the approved one"
        if pin.status == "approved":
            why = "its description or input schema changed since it was approved"
        return False, (
            f"tool {entry.name} is quarantined: {why}. An admin must approve it "
            f"(steward mcp approve-tool {entry.name})"
        )


__all__ = ["Catalog", "Entry"]
