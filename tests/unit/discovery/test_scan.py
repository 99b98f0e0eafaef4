"""Discovery over whole logs: gateway traffic is excluded (to it and from it), AI traffic is
aggregated by source and service, malformed lines are counted with examples."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from steward.discovery import (
    Finding,
    GatewayHosts,
    app_name,
    discover,
    load_catalog,
    purpose,
    read_lines,
)
from steward.discovery.services import ServiceCatalog

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"
DEMO = Path(__file__).resolve().parents[3] / "src" / "steward" / "demo" / "data"


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return load_catalog()


def test_squid_report(catalog: ServiceCatalog) -> None:
    gw = GatewayHosts(["steward.corp.example", "10.9.0.2"])
    report = discover(read_lines(DATA / "squid-access.log"), "squid", catalog, gw)
    assert report.records == 11 and report.malformed == 3
    assert [m.line for m in report.malformed_examples] == [7, 11, 12]
    assert report.to_gateway == 1  # 10.1.4.22 -> steward.corp.example
    assert report.from_gateway == 1  # 10.9.0.2 (the gateway) -> api.anthropic.com
    assert report.other == 2  # example.com and a non-AI Cloudflare API path
    assert report.ai_requests == 7
    top = report.findings[0]
    assert (top.source, top.service, top.provider, top.requests, top.bytes) == (
        "10.1.4.22",
        "openai",
        "OpenAI",
        2,
        48213 + 30210,
    )
    assert top.destinations == ["api.openai.com"]
    assert top.first_seen == datetime(2026, 11, 16, 10, 53, 20, 120000, tzinfo=UTC)
    assert top.last_seen == datetime(2026, 11, 16, 10, 53, 23, 402000, tzinfo=UTC)
    services = {(f.source, f.service) for f in report.findings}
    assert ("10.9.0.2", "anthropic") not in services
    assert ("10.1.5.5", "cloudflare-workers-ai") in services


def test_without_gateway_hosts_nothing_is_excluded(catalog: ServiceCatalog) -> None:
    report = discover(read_lines(DATA / "squid-access.log"), "squid", catalog)
    assert report.to_gateway == report.from_gateway == 0
    assert ("10.9.0.2", "anthropic") in {(f.source, f.service) for f in report.findings}


@pytest.mark.parametrize(
    ("log", "fmt", "gateway", "expected"),
    [
        (
            "nginx-proxy.log",
            "nginx",
            ["steward.corp.example"],
            {
                ("10.2.0.14", "anthropic", 2),
                ("10.2.0.31", "groq", 1),
                ("10.2.0.31", "together", 1),
                ("10.2.0.44", "google-gemini", 1),
            },
        ),
        (
            "zeek-dns.log",
            "zeek-dns",
            ["10.3.0.50"],
            {
                ("10.3.1.7", "openai", 2),
                ("10.3.1.8", "claude-web", 1),
                ("10.3.1.9", "huggingface-inference", 1),
            },
        ),
        (
            "egress.csv",
            "csv",
            ["gw-1"],
            {
                ("laptop-ana", "perplexity", 2),
                ("laptop-ben", "deepseek", 1),
                ("laptop-ben", "openrouter", 1),
            },
        ),
    ],
)
def test_each_format_end_to_end(
    catalog: ServiceCatalog, log: str, fmt: str, gateway: list[str], expected: set[object]
) -> None:
    report = discover(read_lines(DATA / log), fmt, catalog, GatewayHosts(gateway))
    assert {(f.source, f.service, f.requests) for f in report.findings} == expected
    assert report.malformed > 0 and report.malformed_examples
    assert report.to_gateway + report.from_gateway == 1


def test_gateway_hosts_by_name_port_wildcard_and_cidr() -> None:
    gw = GatewayHosts(["https://Steward.Corp:8400/", "*.gw.internal", "10.20.0.0/28", "[::1]"])
    assert gw.matches("steward.corp")
    assert gw.matches("node3.gw.internal")
    assert gw.matches("10.20.0.9") and not gw.matches("10.20.0.16")
    assert gw.matches("::1")
    assert not gw.matches("api.openai.com")
    assert not GatewayHosts([])


def test_gzipped_log_and_many_malformed_lines(tmp_path: Path, catalog: ServiceCatalog) -> None:
    path = tmp_path / "access.log.gz"
    good = "1794819600.0 1 10.0.0.1 TCP_TUNNEL/200 10 CONNECT api.groq.com:443 - - -\n"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(good + "garbage\n" * 40 + good)
    report = discover(read_lines(path), "squid", catalog)
    assert report.malformed == 40 and len(report.malformed_examples) == 5
    assert report.findings[0].requests == 2 and report.findings[0].bytes == 20


def test_demo_sample(catalog: ServiceCatalog) -> None:
    gw = GatewayHosts(["steward.demo.internal", "10.20.0.10"])
    report = discover(read_lines(DEMO / "egress-sample.log"), "squid", catalog, gw)
    assert report.malformed == 2
    assert report.to_gateway == 12 and report.from_gateway == 6
    assert {f.service for f in report.findings} == {
        "chatgpt",
        "openai",
        "anthropic",
        "azure-openai",
    }


def _finding(source: str, service: str = "openai") -> Finding:
    ts = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    return Finding(source, service, "OpenAI", "api", ["api.openai.com"], 3, 100, ts, ts)


def test_app_names_are_valid_and_stable() -> None:
    assert app_name(_finding("10.1.4.22")) == "shadow-openai-10.1.4.22"
    assert app_name(_finding("2001:db8::1")) == "shadow-openai-2001-db8-1"
    assert app_name(_finding("Laptop Ana")) == "shadow-openai-laptop-ana"
    long = app_name(_finding("h" * 200))
    assert len(long) == 100 and long == app_name(_finding("h" * 200))
    assert long != app_name(_finding("h" * 199 + "x"))
    assert "3 request(s) from 10.1.4.22 to OpenAI" in purpose(_finding("10.1.4.22"))
