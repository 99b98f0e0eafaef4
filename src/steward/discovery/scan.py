"""Shadow-AI discovery: read an egress log, drop what went through Steward, keep what reached a
known AI service, and report it by source and service with volume and first/last seen."""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from steward.discovery.logs import PARSERS, LogRecord, Malformed, normalize_host
from steward.discovery.services import Service, ServiceCatalog, host_regex

MAX_EXAMPLES = 5
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class GatewayHosts:
    """Steward's own names and addresses: host names (wildcards as in the services file),
    IP addresses and CIDR ranges. Traffic to them is clients using Steward; traffic from them
    is Steward calling providers. Neither is shadow AI."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._names: set[str] = set()
        self._patterns: list[re.Pattern[str]] = []
        self._networks: list[IpNetwork] = []
        for raw in values:
            value = raw.strip().lower()
            if not value:
                continue
            try:
                self._networks.append(ipaddress.ip_network(value.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            host = value.split("://", 1)[-1].split("/", 1)[0]
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            regex = host_regex(host)
            if regex is not None:
                self._patterns.append(regex)
            else:
                self._names.add(normalize_host(host) or host)

    def __bool__(self) -> bool:
        return bool(self._names or self._patterns or self._networks)

    def matches(self, host: str) -> bool:
        value = normalize_host(host) or host.lower()
        if value in self._names or any(p.match(value) for p in self._patterns):
            return True
        if self._networks:
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                return False
            return any(address in net for net in self._networks)
        return False


@dataclass(frozen=True)
class MalformedLine:
    line: int
    reason: str


@dataclass(frozen=True)
class Finding:
    """Traffic from one source to one AI service that did not go through Steward."""

    source: str
    service: str
    provider: str
    category: str
    destinations: list[str]
    requests: int
    bytes: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class DiscoveryReport:
    log: str
    format: str
    records: int  # usable lines
    malformed: int
    malformed_examples: list[MalformedLine]
    to_gateway: int  # excluded: clients calling Steward
    from_gateway: int  # excluded: Steward calling providers
    other: int  # not a known AI service
    ai_requests: int
    findings: list[Finding] = field(default_factory=list)


@dataclass
class _Tally:
    service: Service
    hosts: set[str] = field(default_factory=set)
    requests: int = 0
    bytes: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, rec: LogRecord) -> None:
        self.hosts.add(rec.host)
        self.requests += 1
        self.bytes += rec.bytes
        if rec.ts is not None:
            self.first = rec.ts if self.first is None else min(self.first, rec.ts)
            self.last = rec.ts if self.last is None else max(self.last, rec.ts)


def read_lines(path: str | Path) -> Iterator[str]:
    """The file's lines, gunzipped when it ends in .gz; undecodable bytes become U+FFFD (so a
    binary line is reported as malformed, not fatal)."""
    p = Path(path)
    if p.suffix == ".gz":
        with gzip.open(p, "rt", encoding="utf-8", errors="replace") as fh:
            yield from fh
    else:
        with p.open(encoding="utf-8", errors="replace") as fh:
            yield from fh


def discover(
    lines: Iterable[str],
    log_format: str,
    catalog: ServiceCatalog,
    gateway: GatewayHosts | None = None,
    *,
    log_name: str = "-",
) -> DiscoveryReport:
    """Scan `lines` in `log_format` (see logs.FORMATS) and aggregate AI traffic by source and
    service, excluding traffic to or from the gateway."""
    parse = PARSERS[log_format]
    gateway = gateway or GatewayHosts()
    tallies: dict[tuple[str, str], _Tally] = {}
    records = malformed = to_gw = from_gw = other = ai = 0
    examples: list[MalformedLine] = []
    for item in parse(lines):
        if isinstance(item, Malformed):
            malformed += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append(MalformedLine(item.line, item.reason))
            continue
        records += 1
        if gateway and gateway.matches(item.host):
            to_gw += 1
            continue
        if gateway and gateway.matches(item.source):
            from_gw += 1
            continue
        service = catalog.match(item.host, item.path)
        if service is None:
            other += 1
            continue
        ai += 1
        key = (item.source, service.name)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally(service)
        tally.add(item)
    findings = [
        Finding(
            source=source,
            service=t.service.name,
            provider=t.service.provider,
            category=t.service.category,
            destinations=sorted(t.hosts),
            requests=t.requests,
            bytes=t.bytes,
            first_seen=t.first,
            last_seen=t.last,
        )
        for (source, _), t in tallies.items()
    ]
    findings.sort(key=lambda f: (-f.requests, f.source, f.service))
    return DiscoveryReport(
        log=log_name,
        format=log_format,
        records=records,
        malformed=malformed,
        malformed_examples=examples,
        to_gateway=to_gw,
        from_gateway=from_gw,
        other=other,
        ai_requests=ai,
        findings=findings,
    )


_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def app_name(finding: Finding) -> str:
    """The inventory name of a finding, `shadow-<service>-<source>`, stable across runs and
    within the 100 characters an app name may have."""
    source = _UNSAFE.sub("-", finding.source.lower()).strip("-.") or "unknown"
    name = f"shadow-{finding.service}-{source}"
    if len(name) > 100:
        digest = hashlib.sha256(finding.source.encode()).hexdigest()[:8]
        name = f"{name[:91]}-{digest}"
    return name


def purpose(finding: Finding) -> str:
    """The purpose recorded for a discovered app: what was seen, where, and when."""
    when = ""
    if finding.first_seen and finding.last_seen:
        when = (
            f" between {finding.first_seen:%Y-%m-%d %H:%M}Z and {finding.last_seen:%Y-%m-%d %H:%M}Z"
        )
    return (
        f"discovered: {finding.requests} request(s) from {finding.source} to "
        f"{finding.provider} ({finding.service}: {', '.join(finding.destinations)}){when}, "
        "not through Steward"
    )


__all__ = [
    "DiscoveryReport",
    "Finding",
    "GatewayHosts",
    "MalformedLine",
    "app_name",
    "discover",
    "purpose",
    "read_lines",
]
