"""Built-in load generator, the fallback when wrk cannot be installed.

asyncio (uvloop when available) over raw sockets: N keep-alive HTTP/1.1 connections, each a
closed loop sending the same POST and reading the whole answer (content-length or chunked),
for a fixed time. Prints one `BENCH_RESULT {json}` line in the format of bench/chat.lua, so
the benchmark parses both the same way. Being Python, it needs far more CPU per request than
wrk: its figures are only comparable with each other, never with wrk's.

    python bench/pyload.py --url http://127.0.0.1:9002/v1/chat/completions \
        --connections 32 --duration 10 --body-file body.json --key sk-...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_SAMPLES = 5_000_000
MAX_CHUNKS = 10_000
HEAD_LIMIT = 64 * 1024


class ProtocolError(Exception):
    pass


@dataclass
class Stats:
    requests: int = 0
    bytes: int = 0
    connect: int = 0
    read: int = 0
    write: int = 0
    status: int = 0
    timeout: int = 0
    latencies_us: list[float] = field(default_factory=list)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read one answer; return (status, bytes read)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    size = len(head)
    if chunked:
        for _ in range(MAX_CHUNKS):
            size_line = await reader.readuntil(b"\r\n")
            n = int(size_line.split(b";", 1)[0].strip(), 16)
            size += len(size_line)
            if n == 0:
                for _ in range(MAX_CHUNKS):  # trailers, then the empty line
                    trailer = await reader.readuntil(b"\r\n")
                    size += len(trailer)
                    if trailer == b"\r\n":
                        return status, size
                raise ProtocolError("too many trailers")
            await reader.readexactly(n + 2)
            size += n + 2
        raise ProtocolError("too many chunks")
    if length is None:
        raise ProtocolError("answer without content-length or chunked encoding")
    await reader.readexactly(length)
    return status, size + length


async def _connection(
    host: str, port: int, request: bytes, deadline: float, timeout_s: float, stats: Stats
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    clock = time.perf_counter
    try:
        while clock() < deadline:  # bounded by time; reconnects after any error
            if writer is None:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(host, port, limit=HEAD_LIMIT), timeout_s
                    )
                except (OSError, TimeoutError):
                    stats.connect += 1
                    await asyncio.sleep(0.05)
                    continue
            assert reader is not None and writer is not None
            started = clock()
            try:
                writer.write(request)
            except OSError:
                stats.write += 1
                writer.close()
                writer = None
                continue
            try:
                status, size = await asyncio.wait_for(
                    _read_response(reader), max(0.001, min(timeout_s, deadline + 1 - clock()))
                )
            except TimeoutError:
                stats.timeout += 1
                writer.close()
                writer = None
                continue
            except (
                OSError,
                ProtocolError,
                ValueError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
            ):
                stats.read += 1
                writer.close()
                writer = None
                continue
            stats.requests += 1
            stats.bytes += size
            if status > 399:
                stats.status += 1
            if len(stats.latencies_us) < MAX_SAMPLES:
                stats.latencies_us.append((clock() - started) * 1e6)
    finally:
        if writer is not None:
            writer.close()


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(
    url: str, connections: int, duration_s: float, body: bytes, key: str, timeout_s: float
) -> dict[str, object]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    path = parts.path or "/"
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if key:
        head.append(f"Authorization: Bearer {key}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    stats = Stats()
    started = time.perf_counter()
    deadline = started + duration_s
    await asyncio.gather(
        *(_connection(host, port, request, deadline, timeout_s, stats) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    lat = sorted(stats.latencies_us)
    return {
        "requests": stats.requests,
        "duration_us": int(elapsed * 1e6),
        "bytes": stats.bytes,
        "errors": {
            "connect": stats.connect,
            "read": stats.read,
            "write": stats.write,
            "status": stats.status,
            "timeout": stats.timeout,
        },
        "latency_us": {
            "mean": sum(lat) / len(lat) if lat else 0.0,
            "max": lat[-1] if lat else 0.0,
            "p50": _percentile(lat, 50),
            "p90": _percentile(lat, 90),
            "p99": _percentile(lat, 99),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    with open(args.body_file, "rb") as f:
        body = f.read()
    coro = run(args.url, args.connections, args.duration, body, args.key, args.timeout)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
