"""The demo's shop tools: a small MCP server over stdio (the SDK's MCPServer) that the gateway
starts as a child process and offers to agents as `shop__*` tools, behind policy."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("shop")
ORDERS = {"1042": ("shipped", 39.90), "1043": ("delivered", 820.00), "1044": ("lost", 12.50)}


@server.tool(description="Look up an order by its number: status and amount.")
def lookup_order(order_id: str) -> str:
    status, amount = ORDERS.get(order_id, ("unknown", 0.0))
    return f"order {order_id}: {status}, {amount:.2f} EUR"


@server.tool(description="Refund an amount (whole euros) on an order.")
def refund(order_id: str, amount: int) -> str:
    return f"refunded {amount} EUR on order {order_id}"


@server.tool(description="Delete a customer and all their records.")
def delete_customer(customer_id: str) -> str:
    return f"deleted customer {customer_id}"


if __name__ == "__main__":
    server.run("stdio")
