"""Through the real server: pricing overrides and contract discounts reach the recorded cost
(cache reads at their rate, reasoning inside output); the inventory sees the models and apps in
use; `steward discover --add` on a sample log with malformed lines puts shadow AI into the
inventory the gateway serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx

from tests.e2e._gateway import ADMIN_KEY, Gateway

DATA = Path(__file__).resolve().parents[1] / "data" / "discovery"
PRICING = {
    "overrides": [{"model": "my-own-*", "input_per_mtok": 2.0, "output_per_mtok": 6.0}],
    "discounts": [{"provider": "up-openai", "percent": 50}],
}
M = Decimal(1_000_000)


def chat(gw: Gateway, key: str, model: str) -> str:
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "price me " * 20}]},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.headers["x-steward-request-id"]


def test_overrides_and_discounts_priced_through_the_gateway(
    make_gateway: Callable[..., Gateway], backend_url: str
) -> None:
    gw = make_gateway(backend_url, pricing=PRICING).start()
    key, org, _ = gw.user_key()

    cached = gw.usage(chat(gw, key, "gpt-cached"))  # config price 1 / 4, cache read 0.1
    assert cached.cached_tokens > 0 and cached.reasoning_tokens > 0
    plain = cached.input_tokens - cached.cached_tokens
    list_cost = (plain * 1 + cached.cached_tokens * Decimal("0.1") + cached.output_tokens * 4) / M
    assert Decimal(str(cached.cost_usd)) == (list_cost / 2).quantize(Decimal("1e-10"))
    assert cached.price_source == "config"

    custom = gw.usage(chat(gw, key, "unpriced"))  # upstream my-own-finetune-7b: the override
    expected = (custom.input_tokens * 2 + custom.output_tokens * 6) / M / 2
    assert Decimal(str(custom.cost_usd)) == expected.quantize(Decimal("1e-10"))
    assert custom.price_source == "config-override"

    inv = gw.api("GET", "/inventory")
    models = {m["name"]: m for m in inv["models"]}
    assert models["gpt-cached"]["requests"] == 1 and models["unpriced"]["requests"] == 1
    assert models["gpt-cached"]["usage"][0]["provider"] == "up-openai"
    flags = {(f["name"], f["code"]) for f in inv["flags"]}
    assert ("gpt-cached", "model_without_owner") in flags
    assert ("claude-test", "model_without_owner") not in flags  # not in use: no flag
    app = next(a for a in inv["apps"] if a["name"] == org["app"])
    assert app["requests"] == 2 and app["owner"] == org["user"] and app["active_keys"] == 1


def test_discover_add_reaches_the_inventory(
    make_gateway: Callable[..., Gateway], backend_url: str
) -> None:
    gw = make_gateway(backend_url).start()
    env = {**os.environ, "STEWARD_CONFIG": str(gw.config_path)}
    args = [
        sys.executable, "-m", "steward", "discover",
        "--log", str(DATA / "squid-access.log"), "--format", "squid",
        "--gateway-host", "steward.corp.example", "--gateway-host", "10.9.0.2",
        "--add", "--json",
    ]  # fmt: skip
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["malformed"] == 3 and len(report["added"]) == 6
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(again.stdout)["added"] == []

    r = httpx.get(
        f"{gw.url}/admin/v1/inventory",
        params={"flags_only": "true"},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )
    assert r.status_code == 200
    unmanaged = {f["name"] for f in r.json()["flags"] if f["code"] == "unmanaged_app"}
    assert "shadow-openai-10.1.4.22" in unmanaged and len(unmanaged) == 6
