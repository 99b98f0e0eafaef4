"""`steward inventory`, `steward discover`, `steward prices show` and the apps/agents update
commands, through Typer's runner against a real SQLite store."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from steward.cli.main import app

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"

CONFIG = """
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1"}
  sim: {kind: sim}
models:
  - name: chat
    provider: openai
    upstream_model: gpt-4o
    owner: alice
    purpose: support answers
    data_classes: [pii]
    risk_tier: limited
  - {name: mini, provider: openai, upstream_model: gpt-4o-mini}
  - name: sim-fast
    provider: sim
    price: {input_per_mtok: 0.15, output_per_mtok: 0.6, cache_read_per_mtok: 0.075}
  - {name: sim-free, provider: sim}
pricing:
  overrides:
    - {model: "gpt-4o-mini*", provider: openai, input_per_mtok: 0.1, output_per_mtok: 0.4}
  discounts:
    - {provider: openai, percent: 20}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "steward.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def error(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


# -- prices ----------------------------------------------------------------------------------


def test_prices_show_genai_with_discount(config: str) -> None:
    out = ok("prices", "show", "chat", "-c", config).stdout
    assert "source       genai-prices: model 'gpt-4o'" in out
    assert "of provider 'openai' (OpenAI)" in out
    assert "input                2.50 -> 2.00" in out
    assert "output              10.00 -> 8.00 (reasoning tokens are output)" in out
    assert "cache read           1.25 -> 1.00" in out
    assert "discount     20% from pricing.discounts[0] (model '*', provider 'openai')" in out
    assert "1,000,000 input x 2.00 + 1,000,000 output x 8.00 = 10.00 USD" in out


def test_prices_show_override_found_by_upstream_name(config: str) -> None:
    out = ok("prices", "show", "gpt-4o-mini", "-c", config).stdout
    assert out.startswith("mini on provider openai")
    assert "config-override: pricing.overrides[0] (model 'gpt-4o-mini*', provider 'openai')" in out
    assert "= 0.40 USD" in out  # (0.1 + 0.4) x 0.8


def test_prices_show_config_price_and_cache_rate(config: str) -> None:
    out = ok("prices", "show", "sim-fast", "-c", config).stdout
    assert "config: models[].price of 'sim-fast'" in out
    assert "cache write          0.15 -> 0.15 (no rate given: billed at the input rate)" in out
    assert "discount     none" in out
    assert "= 0.75 USD" in out


def test_prices_show_unknown_is_null(config: str) -> None:
    out = ok("prices", "show", "sim-free", "-c", config).stdout
    assert "unknown (cost is recorded as null)" in out and "example" not in out
    data = json.loads(ok("prices", "show", "no-such-model-xyz", "--json", "-c", config).stdout)
    assert data["source"] == "unknown" and data["example_cost"] is None
    assert data["configured"] is False


def test_prices_show_json(config: str) -> None:
    data = json.loads(ok("prices", "show", "chat", "--json", "-c", config).stdout)
    assert data["source"] == "genai-prices" and data["genai"]["model_id"] == "gpt-4o"
    assert Decimal(data["discount_percent"]) == 20  # decimals as strings: exact
    assert Decimal(data["example_cost"]) == 10
    rates = {r["kind"]: r for r in data["rates"]}
    assert Decimal(rates["input"]["rate"]) == 2 and Decimal(rates["input"]["list_rate"]) == 2.5
    assert rates["cache_write"]["inherited"] is True


def test_prices_show_bad_provider(config: str) -> None:
    message = error("prices", "show", "gpt-4o", "--provider", "nope", "-c", config)
    assert "provider 'nope' is not configured (providers: openai, sim)" in message


# -- discover --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "fmt", "service"),
    [
        ("squid-access.log", "squid", "aws-bedrock"),
        ("nginx-proxy.log", "nginx", "google-gemini"),
        ("zeek-dns.log", "zeek-dns", "claude-web"),
        ("egress.csv", "csv", "perplexity"),
    ],
)
def test_discover_each_format(config: str, log: str, fmt: str, service: str) -> None:
    out = ok("discover", "--log", str(DATA / log), "--format", fmt).stdout
    assert service in out
    assert "malformed line(s) skipped (e.g. line" in out


def test_discover_json_and_gateway_exclusion(config: str) -> None:
    args = ["discover", "-l", str(DATA / "squid-access.log"), "-f", "squid", "--json"]
    plain = json.loads(ok(*args).stdout)
    excluded = json.loads(ok(*args, "-g", "steward.corp.example", "-g", "10.9.0.2").stdout)
    assert plain["to_gateway"] == 0 and excluded["to_gateway"] == 1
    assert excluded["from_gateway"] == 1
    assert len(plain["findings"]) == len(excluded["findings"]) + 1
    assert excluded["malformed"] == 3 and excluded["malformed_examples"][0]["line"] == 7


def test_discover_add_is_idempotent(config: str) -> None:
    args = ["discover", "-l", str(DATA / "zeek-dns.log"), "-f", "zeek-dns", "-g", "10.3.0.50"]
    first = ok(*args, "--add", "-c", config).stdout
    assert "inventory: 3 unmanaged app(s) added" in first
    assert "shadow-openai-10.3.1.7" in first
    second = ok(*args, "--add", "-c", config).stdout
    assert "inventory: 0 unmanaged app(s) added, 3 already there" in second
    apps = json.loads(ok("apps", "list", "--json", "-c", config).stdout)
    assert sorted(a["name"] for a in apps) == [
        "shadow-claude-web-10.3.1.8",
        "shadow-huggingface-inference-10.3.1.9",
        "shadow-openai-10.3.1.7",
    ]
    assert all(a["managed"] is False for a in apps)
    audit = ok("audit", "list", "--action", "app.discover", "--json", "-c", config).stdout
    assert len(json.loads(audit)) == 3


def test_discover_errors(config: str, tmp_path: Path) -> None:
    assert "does not exist" in error("discover", "-l", str(tmp_path / "nope.log"), "-f", "squid")
    bad = tmp_path / "services.yaml"
    bad.write_text("services: [{name: x, provider: p}]\n", encoding="utf-8")
    message = error("discover", "-l", str(DATA / "egress.csv"), "-f", "csv", "--services", str(bad))
    assert str(bad) in message and "services.0.hosts" in message
    result = run("discover", "-l", str(DATA / "egress.csv"), "-f", "apache")
    assert result.exit_code == 2


def test_discover_with_extra_services(config: str, tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "services: [{name: wiki-ai, provider: Wikimedia, hosts: [www.wikipedia.org]}]\n",
        encoding="utf-8",
    )
    out = ok("discover", "-l", str(DATA / "egress.csv"), "-f", "csv", "--services", str(extra))
    assert "wiki-ai" in out.stdout


# -- inventory and updates -------------------------------------------------------------------


def test_inventory_and_updates(config: str) -> None:
    ok("users", "create", "alice", "-c", config)
    ok("apps", "create", "helpdesk", "--owner", "alice", "--data-classes", "pii", "-c", config)
    ok("agents", "create", "refund-bot", "--owner", "alice", "-c", config)
    out = ok("inventory", "-c", config).stdout
    assert "Apps" in out and "Agents" in out and "Models" in out
    assert "app_unclassified" in out and "helpdesk" in out
    data = json.loads(ok("inventory", "--format", "json", "-c", config).stdout)
    assert [m["name"] for m in data["models"]] == ["chat", "mini", "sim-fast", "sim-free"]
    assert data["apps"][0]["data_classes"] == ["pii"]

    updated = ok(
        "apps",
        "update",
        "helpdesk",
        "--risk-tier",
        "high",
        "--purpose",
        "answers",
        "--data-classes",
        "pii,public",
        "--json",
        "-c",
        config,
    ).stdout
    record = json.loads(updated)
    assert (record["risk_tier"], record["purpose"], record["data_classes"]) == (
        "high",
        "answers",
        ["pii", "public"],
    )
    agent = json.loads(
        ok(
            "agents",
            "update",
            "refund-bot",
            "--data-classes",
            "financial",
            "--json",
            "-c",
            config,
        ).stdout
    )
    assert agent["data_classes"] == ["financial"]
    assert ok("inventory", "--flags-only", "-c", config).stdout.strip() == "No flags."
    flags = json.loads(ok("inventory", "--flags-only", "-f", "json", "-c", config).stdout)
    assert flags["flags"] == [] and flags["apps"] == []


def test_update_errors_are_one_line(config: str) -> None:
    ok("apps", "create", "helpdesk", "-c", config)
    message = error("apps", "update", "helpdesk", "--data-classes", "pii,gossip", "-c", config)
    assert message.startswith("error: data class 'gossip' is not one of")
    assert error("apps", "update", "helpdesk", "-c", config).startswith("error: nothing to update")
    assert "does not exist" in error("agents", "update", "ghost", "--purpose", "x", "-c", config)
