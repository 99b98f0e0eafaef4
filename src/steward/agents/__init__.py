"""Agents: the MCP gateway, human approvals and suspensions."""
