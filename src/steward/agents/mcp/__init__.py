"""The MCP gateway at /mcp: upstream MCP servers aggregated under namespaced tool names, each
call authorized by policy, guarded, rate-limited and audited; tools pinned by hash and
quarantined when they change. `service.McpGateway` is the endpoint the app mounts; it loads
`gateway.McpServer` (and the MCP SDK) only when servers are configured."""

from steward.agents.mcp.names import SEPARATOR, ToolNameError, namespaced, split
from steward.agents.mcp.settings import McpRateLimit, McpServerConfig, McpSettings

__all__ = [
    "SEPARATOR",
    "McpRateLimit",
    "McpServerConfig",
    "McpSettings",
    "ToolNameError",
    "namespaced",
    "split",
]
