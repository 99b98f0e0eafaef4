"""Readers for egress logs: squid's native access.log, an nginx forward proxy's combined log,
zeek's dns.log and a plain CSV. Each yields one record per usable line and one `Malformed` per
line it cannot use, with its number and why; nothing here raises on bad input."""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

LogFormat = Literal["squid", "nginx", "zeek-dns", "csv"]
FORMATS: tuple[str, ...] = ("squid", "nginx", "zeek-dns", "csv")

_HOSTNAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?$")


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One request (or DNS query) seen leaving the network."""

    line: int
    ts: datetime | None
    source: str
    host: str  # lower case, without port or trailing dot
    path: str | None  # None when the log cannot know it (CONNECT tunnels, DNS)
    bytes: int


@dataclass(frozen=True, slots=True)
class Malformed:
    line: int
    reason: str


Parsed = LogRecord | Malformed


def normalize_host(text: str) -> str | None:
    """A host name or IP address in canonical form, or None if it is neither."""
    host = text.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host if _HOSTNAME.match(host) and ".." not in host else None


def split_destination(text: str) -> tuple[str, str | None] | None:
    """(host, path) from an absolute URL, `host:port` (CONNECT), `[v6]:port` or a bare host."""
    value = text.strip()
    if not value or value == "-":
        return None
    if "://" in value:
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            return None
        if not host:
            return None
        normal = normalize_host(host)
        return None if normal is None else (normal, parts.path or "/")
    if value.startswith("["):
        host = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
        if not port.isdigit():
            return None
    else:
        host = value  # a bare name, or an IPv6 address without brackets
    normal = normalize_host(host)
    return None if normal is None else (normal, None)


def _epoch(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        return None


# -- squid ---------------------------------------------------------------------------------------


def parse_squid(lines: Iterable[str]) -> Iterator[Parsed]:
    """squid's native format: time elapsed client code/status bytes method URL [ident hier type].
    CONNECT requests log `host:port`; plain HTTP requests log the absolute URL."""
    for n, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text:
            continue
        fields = text.split()
        if len(fields) < 7:
            yield Malformed(n, f"expected at least 7 fields, found {len(fields)}")
            continue
        ts = _epoch(fields[0])
        if ts is None:
            yield Malformed(n, f"time '{fields[0][:40]}' is not seconds since the epoch")
            continue
        if not fields[4].isdigit():
            yield Malformed(n, f"bytes '{fields[4][:40]}' is not a number")
            continue
        dest = split_destination(fields[6])
        if dest is None:
            yield Malformed(n, f"no destination host in '{fields[6][:80]}'")
            continue
        yield LogRecord(n, ts, fields[2], dest[0], dest[1], int(fields[4]))


# -- nginx ---------------------------------------------------------------------------------------

_NGINX = re.compile(
    r'^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r"(?P<status>\d{3}) (?P<bytes>\d+|-)"
    r'(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?(?P<rest>.*)$'
)


def _nginx_host(target: str, method: str, rest: str) -> tuple[str, str | None] | None:
    """The destination: the request target when it names a host (CONNECT host:port, an
    absolute URL), else the first field after the user agent ($host appended to the format)."""
    if method == "CONNECT" or "://" in target:
        return split_destination(target)
    extra = rest.strip()
    if not extra:
        return None
    first = extra[1 : extra.find('"', 1)] if extra.startswith('"') else extra.split()[0]
    found = split_destination(first)
    if found is None:
        return None
    path = target.split("?", 1)[0] if target.startswith("/") else None
    return found[0], path


def parse_nginx(lines: Iterable[str]) -> Iterator[Parsed]:
    """nginx's combined format from a forward proxy, optionally followed by "$host"."""
    for n, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text:
            continue
        m = _NGINX.match(text)
        if m is None:
            yield Malformed(n, "not in nginx combined format")
            continue
        try:
            ts = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
        except ValueError:
            yield Malformed(n, f"time '{m['time'][:40]}' is not like 10/Oct/2026:13:55:36 +0000")
            continue
        parts = m["request"].split()
        if len(parts) not in (2, 3):
            yield Malformed(n, f"request line '{m['request'][:80]}' is not 'METHOD TARGET PROTO'")
            continue
        dest = _nginx_host(parts[1], parts[0].upper(), m["rest"])
        if dest is None:
            yield Malformed(n, "no destination host (request line or a trailing $host field)")
            continue
        size = 0 if m["bytes"] == "-" else int(m["bytes"])
        yield LogRecord(n, ts, m["client"], dest[0], dest[1], size)


# -- zeek ----------------------------------------------------------------------------------------


def _zeek_json(n: int, text: str) -> Parsed:
    try:
        row: Any = json.loads(text)
    except ValueError:
        return Malformed(n, "not valid JSON")
    if not isinstance(row, dict):
        return Malformed(n, "a JSON line that is not an object")
    raw_ts = row.get("ts")
    if isinstance(raw_ts, int | float):
        ts = _epoch(str(raw_ts))
    else:
        ts = _iso(str(raw_ts)) if raw_ts is not None else None
    return _zeek_record(n, ts, row.get("id.orig_h"), row.get("query"), raw_ts)


def _zeek_record(n: int, ts: datetime | None, source: Any, query: Any, raw_ts: Any) -> Parsed:
    if ts is None:
        return Malformed(n, f"time '{str(raw_ts)[:40]}' is not a zeek timestamp")
    if not isinstance(source, str) or source in ("", "-"):
        return Malformed(n, "no id.orig_h (source address)")
    host = normalize_host(query) if isinstance(query, str) and query not in ("", "-") else None
    if host is None:
        return Malformed(n, f"query '{str(query)[:80]}' is not a host name")
    return LogRecord(n, ts, source, host, None, 0)


def parse_zeek_dns(lines: Iterable[str]) -> Iterator[Parsed]:
    """zeek's dns.log: TSV with `#separator` and `#fields` headers (or zeek's JSON lines). Each
    query counts as one request; DNS logs carry no byte counts."""
    sep = "\t"
    fields: list[str] | None = None
    for n, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        if text.startswith("#"):
            if text.startswith("#separator"):
                value = text[len("#separator") :].strip()
                sep = value.encode().decode("unicode_escape") if value else "\t"
            elif text.startswith("#fields"):
                fields = text.split(sep)[1:]
            continue
        if text.lstrip().startswith("{"):
            yield _zeek_json(n, text)
            continue
        if fields is None:
            yield Malformed(n, "a data line before the #fields header")
            continue
        values = text.split(sep)
        if len(values) != len(fields):
            yield Malformed(n, f"expected {len(fields)} fields, found {len(values)}")
            continue
        row = dict(zip(fields, values, strict=True))
        raw_ts = row.get("ts", "")
        yield _zeek_record(n, _epoch(raw_ts), row.get("id.orig_h"), row.get("query"), raw_ts)


# -- CSV -----------------------------------------------------------------------------------------

CSV_COLUMNS = ("timestamp", "source", "destination", "bytes")


def _iso(text: str) -> datetime | None:
    value = text.strip()
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return _epoch(value)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _csv_row(n: int, row: dict[str, str]) -> Parsed:
    ts = _iso(row.get("timestamp", ""))
    if ts is None:
        return Malformed(n, f"timestamp '{row.get('timestamp', '')[:40]}' is not ISO 8601 or epoch")
    source = row.get("source", "").strip()
    if not source:
        return Malformed(n, "empty source")
    dest = split_destination(row.get("destination", ""))
    if dest is None:
        return Malformed(n, f"destination '{row.get('destination', '')[:80]}' is not a host or URL")
    size = row.get("bytes", "").strip() or "0"
    if not size.isdigit():
        return Malformed(n, f"bytes '{size[:40]}' is not a whole number")
    return LogRecord(n, ts, source, dest[0], dest[1], int(size))


def parse_csv(lines: Iterable[str]) -> Iterator[Parsed]:
    """CSV with a header row naming at least timestamp, source and destination (bytes is
    optional; other columns are ignored). Destination is a host, host:port or a URL."""
    header: list[str] | None = None
    missing: list[str] = []
    numbered = ((n, line) for n, line in enumerate(lines, 1) if line.strip())
    for n, line in numbered:
        try:
            cells = next(csv.reader([line]))
        except csv.Error as exc:
            yield Malformed(n, f"not valid CSV: {exc}")
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in CSV_COLUMNS[:3] if c not in header]
            continue
        if missing:
            yield Malformed(n, f"the header has no column {', '.join(missing)}")
            continue
        if len(cells) != len(header):
            yield Malformed(n, f"expected {len(header)} columns, found {len(cells)}")
            continue
        yield _csv_row(n, dict(zip(header, cells, strict=True)))


PARSERS: dict[str, Callable[[Iterable[str]], Iterator[Parsed]]] = {
    "squid": parse_squid,
    "nginx": parse_nginx,
    "zeek-dns": parse_zeek_dns,
    "csv": parse_csv,
}

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "PARSERS",
    "LogFormat",
    "LogRecord",
    "Malformed",
    "Parsed",
    "normalize_host",
    "parse_csv",
    "parse_nginx",
    "parse_squid",
    "parse_zeek_dns",
    "split_destination",
]
