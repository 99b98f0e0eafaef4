"""Each log format: good lines become records, bad lines are counted with their number and why,
and nothing raises."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from steward.discovery.logs import (
    LogRecord,
    Malformed,
    parse_csv,
    parse_nginx,
    parse_squid,
    parse_zeek_dns,
    split_destination,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"


def split(items: list[LogRecord | Malformed]) -> tuple[list[LogRecord], list[Malformed]]:
    return (
        [i for i in items if isinstance(i, LogRecord)],
        [i for i in items if isinstance(i, Malformed)],
    )


def lines(name: str) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api.openai.com:443", ("api.openai.com", None)),
        ("API.OpenAI.com.", ("api.openai.com", None)),
        ("https://api.openai.com/v1/chat?x=1", ("api.openai.com", "/v1/chat")),
        ("http://api.mistral.ai:8080", ("api.mistral.ai", "/")),
        ("[2001:db8::1]:443", ("2001:db8::1", None)),
        ("2001:db8::1", ("2001:db8::1", None)),
        ("10.0.0.1", ("10.0.0.1", None)),
        ("not a host!", None),
        ("host:port", None),
        ("-", None),
        ("", None),
        ("error:invalid-request", None),
    ],
)
def test_split_destination(text: str, expected: tuple[str, str | None] | None) -> None:
    assert split_destination(text) == expected


def test_squid_sample() -> None:
    records, bad = split(list(parse_squid(lines("squid-access.log"))))
    assert len(records) == 11
    assert [m.line for m in bad] == [7, 11, 12]
    assert "seconds since the epoch" in bad[1].reason and "bytes" in bad[2].reason
    first = records[0]
    assert (first.line, first.source, first.host, first.path, first.bytes) == (
        1,
        "10.1.4.22",
        "api.openai.com",
        None,
        48213,
    )
    assert first.ts == datetime(2026, 11, 16, 10, 53, 20, 120000, tzinfo=UTC)
    plain = next(r for r in records if r.host == "api.mistral.ai")
    assert plain.path == "/v1/chat/completions"


def test_squid_short_and_blank_lines() -> None:
    items = list(parse_squid(["\n", "1.0 1 10.0.0.1 TCP/200 5 CONNECT\n", "   \n"]))
    assert items == [Malformed(2, "expected at least 7 fields, found 6")]


def test_nginx_sample() -> None:
    records, bad = split(list(parse_nginx(lines("nginx-proxy.log"))))
    assert [m.line for m in bad] == [6, 8, 9]
    assert "no destination host" in bad[0].reason
    assert "not like" in bad[1].reason
    assert bad[2].reason == "not in nginx combined format"
    by_host = {r.host: r for r in records}
    assert by_host["api.anthropic.com"].path is None  # CONNECT: no path
    assert by_host["api.groq.com"].path == "/openai/v1/chat/completions"  # absolute URL
    # origin-form request: host from the trailing "$host" field, path from the request
    assert by_host["api.together.xyz"].path == "/v1/chat/completions"
    # +0100 is converted to UTC
    assert by_host["api.groq.com"].ts == datetime(2026, 11, 16, 9, 1, tzinfo=UTC)


def test_nginx_bare_trailing_host_and_dash_bytes() -> None:
    line = (
        '10.0.0.9 - - [16/Nov/2026:09:00:00 +0000] "GET /v1/models HTTP/1.1" 200 - "-" "ua" '
        "api.x.ai\n"
    )
    (rec,) = list(parse_nginx([line]))
    assert isinstance(rec, LogRecord)
    assert (rec.host, rec.path, rec.bytes) == ("api.x.ai", "/v1/models", 0)


def test_zeek_dns_sample() -> None:
    records, bad = split(list(parse_zeek_dns(lines("zeek-dns.log"))))
    assert [r.host for r in records] == [
        "api.openai.com",
        "api.openai.com",
        "claude.ai",
        "www.example.org",
        "api.anthropic.com",
        "huggingface-model.endpoints.huggingface.cloud",
    ]
    assert all(r.bytes == 0 and r.path is None for r in records)
    assert records[0].source == "10.3.1.7"
    assert records[0].ts == datetime(2026, 11, 16, 9, 0, 0, 101000, tzinfo=UTC)
    assert [(m.line, m.reason) for m in bad] == [
        (13, "expected 24 fields, found 8"),
        (15, "query '-' is not a host name"),
    ]


def test_zeek_data_before_header_and_json_lines() -> None:
    items = list(
        parse_zeek_dns(
            [
                "1.0\tx\t10.0.0.1\n",
                '{"ts": 1794819600.5, "id.orig_h": "10.0.0.2", "query": "api.groq.com"}\n',
                '{"ts": "2026-11-16T09:00:00Z", "id.orig_h": "10.0.0.3", "query": "api.x.ai"}\n',
                "{not json\n",
            ]
        )
    )
    assert items[0] == Malformed(1, "a data line before the #fields header")
    assert isinstance(items[1], LogRecord) and items[1].host == "api.groq.com"
    assert isinstance(items[2], LogRecord)
    assert items[2].ts == datetime(2026, 11, 16, 9, tzinfo=UTC)
    assert items[3] == Malformed(4, "not valid JSON")


def test_csv_sample() -> None:
    records, bad = split(list(parse_csv(lines("egress.csv"))))
    assert [r.host for r in records] == [
        "api.perplexity.ai",
        "api.perplexity.ai",
        "api.deepseek.com",
        "openrouter.ai",
        "www.wikipedia.org",
        "api.cohere.com",
    ]
    assert records[1].path == "/chat/completions"
    assert records[3].bytes == 0  # empty bytes column
    assert records[2].ts == datetime(2026, 11, 16, 7, 6, tzinfo=UTC)  # +01:00 to UTC
    assert [m.line for m in bad] == [6, 7, 8, 9, 11]


def test_csv_header_without_required_columns() -> None:
    items = list(parse_csv(["time,src,dst\n", "1,a,b\n", "2,c,d\n"]))
    assert items == [
        Malformed(2, "the header has no column timestamp, source, destination"),
        Malformed(3, "the header has no column timestamp, source, destination"),
    ]


def test_binary_garbage_is_malformed_not_fatal() -> None:
    junk = ["\x00\x01\ufffd\ufffd\n", "\ufffd" * 500 + "\n"]
    for parse in (parse_squid, parse_nginx, parse_zeek_dns, parse_csv):
        assert all(isinstance(i, Malformed) for i in parse(junk))
