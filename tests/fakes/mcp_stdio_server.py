"""A notes server over stdio (MCPServer), started by the gateway as a child process."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes")
NOTES = {"welcome": "Welcome to the team wiki.", "roadmap": "Q3: ship the MCP gateway."}


@server.tool(description="Read a note by its name.")
def read(name: str) -> str:
    return NOTES.get(name, f"no note named {name}")


@server.tool(description="Count the words of a text.")
def word_count(text: str) -> int:
    return len(text.split())


if __name__ == "__main__":
    server.run("stdio")
