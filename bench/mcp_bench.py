"""MCP gateway benchmark: what Steward's /mcp adds to a tool call, measured side by side with
calling the same upstream MCP server directly, in the same run, with the same client.

    .venv/bin/python bench/mcp_bench.py              # ~30 s
    .venv/bin/python bench/mcp_bench.py --calls 500 --concurrency 8

The upstream is an MCPServer (the SDK's FastMCP) over Streamable HTTP in its own process; the
gateway is `steward serve` in its own process with that server configured, the guard on (the
default profile) and no policy files (a user key: tools are permitted to non-agents), so each
call through Steward is authenticated, pin-checked, guarded on arguments and result, decided by
Cedar, counted against a rate limit and audited (spool in `write` mode). Calls alternate
between the two paths in blocks so machine noise hits both. A benchmark, not a test: it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from steward.demo.server import GatewayProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "sk-stw-admin-bench-" + "x" * 24
UPSTREAM = """
import sys
from mcp.server.mcpserver import MCPServer
server = MCPServer("bench")

@server.tool(description="Return the text it was given.")
def echo(text: str) -> str:
    return text

server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
"""
TEXT = "Please look up the order history of customer 4711 and summarise the last three orders."


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", UPSTREAM, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the upstream MCP server did not start")


def user_key(base: str) -> str:
    admin = httpx.Client(headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    admin.post(f"{base}/admin/v1/teams", json={"name": "bench"}).raise_for_status()
    admin.post(f"{base}/admin/v1/users", json={"name": "bench", "teams": ["bench"]})
    r = admin.post(f"{base}/admin/v1/keys", json={"user": "bench"})
    r.raise_for_status()
    key: str = r.json()["key"]
    return key


async def timed_calls(client: Client, tool: str, n: int, concurrency: int) -> list[float]:
    """Latency (ms) of `n` calls, `concurrency` at a time."""
    out: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            t0 = time.perf_counter()
            result = await client.call_tool(tool, {"text": TEXT})
            out.append((time.perf_counter() - t0) * 1000)
            if result.is_error:
                raise RuntimeError(f"{tool} failed: {result.content}")

    await asyncio.gather(*(one() for _ in range(n)))
    return out


def summary(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100)
    return {
        "p50": round(q[49], 3),
        "p90": round(q[89], 3),
        "p99": round(q[98], 3),
        "mean": round(statistics.fmean(ms), 3),
    }


async def run(
    direct_url: str, gateway_url: str, key: str, args: argparse.Namespace
) -> dict[str, Any]:
    http_direct = create_mcp_http_client()
    http_gw = create_mcp_http_client(headers={"authorization": f"Bearer {key}"})
    async with (
        http_direct,
        http_gw,
        Client(streamable_http_client(direct_url, http_client=http_direct)) as direct,
        Client(streamable_http_client(gateway_url, http_client=http_gw)) as via,
    ):
        deadline = time.monotonic() + 30
        while "up__echo" not in {t.name for t in (await via.list_tools()).tools}:
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not list the upstream's tools")
            await asyncio.sleep(0.2)
        await direct.list_tools()
        for client, tool in ((direct, "echo"), (via, "up__echo")):  # warm up
            await timed_calls(client, tool, 30, args.concurrency)
        results: dict[str, list[float]] = {"direct": [], "steward": []}
        block = max(10, args.calls // 10)
        for _ in range(args.calls // block):
            results["direct"] += await timed_calls(direct, "echo", block, args.concurrency)
            results["steward"] += await timed_calls(via, "up__echo", block, args.concurrency)
        t0 = time.perf_counter()
        for _ in range(20):
            await via.list_tools()
        list_ms = (time.perf_counter() - t0) * 1000 / 20
    d, s = summary(results["direct"]), summary(results["steward"])
    return {
        "calls_per_path": len(results["direct"]),
        "concurrency": args.concurrency,
        "direct_ms": d,
        "steward_ms": s,
        "overhead_ms": {k: round(s[k] - d[k], 3) for k in ("p50", "p90", "mean")},
        "tools_list_via_steward_ms": round(list_ms, 3),
    }


def governance(database_url: str) -> dict[str, float]:
    """From the mcp.tool_call audit events: the time each call spent in Steward's own handler
    (policy, pins, guard, limits, audit) apart from the upstream call (latency - upstream)."""
    from sqlalchemy import select

    from steward.store.db import make_engine, session_factory
    from steward.store.models import AuditEvent

    engine = make_engine(database_url)
    with session_factory(engine)() as s:
        rows = s.scalars(select(AuditEvent.details).where(AuditEvent.action == "mcp.tool_call"))
        own = [d["latency_ms"] - d["upstream_ms"] for d in rows if d and d.get("upstream_ms")]
    engine.dispose()
    return {**summary(own), "calls": len(own)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per path")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    up_port = free_port()
    upstream = start_upstream(up_port)
    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as tmp:
        cfg = {
            "database_url": f"sqlite:///{tmp}/steward.db",
            "spool": {"sync": "write"},
            "mcp": {
                "servers": {"up": {"url": f"http://127.0.0.1:{up_port}/mcp"}},
                "rate_limits": [{"scope": "user", "rpm": 1_000_000}],
            },
        }
        (Path(tmp) / "steward.yaml").write_text(yaml.safe_dump(cfg))
        gateway = GatewayProcess(
            Path(tmp),
            config=Path(tmp) / "steward.yaml",
            admin_key=ADMIN_KEY,
            extra_env={
                "STEWARD_LOG_LEVEL": "warning",
                "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            },
        )
        try:
            gateway.start(timeout_s=180)  # a busy shared machine starts Python slowly
            key = user_key(gateway.url)
            time.sleep(1.0)  # the key reaches the gateway's snapshot
            report = asyncio.run(
                run(f"http://127.0.0.1:{up_port}/mcp", f"{gateway.url}/mcp", key, args)
            )
            time.sleep(1.0)  # the audit events are shipped
            report["governance_ms"] = governance(f"sqlite:///{tmp}/steward.db")
        finally:
            gateway.stop()
            upstream.terminate()
            upstream.wait(10)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
