"""`steward demo`: the gateway on the embedded default, a small organisation, a scripted mix of
real requests through the official OpenAI and Anthropic SDKs, and a summary of what it cost."""

from __future__ import annotations

import functools
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
from rich.console import Console
from rich.table import Table

from steward.demo.agent_steps import AgentScript
from steward.demo.budget_steps import BudgetStep, threshold_alerts
from steward.demo.config import write_demo_config
from steward.demo.discovery_step import print_shadow_ai
from steward.demo.eval_steps import healthy_traffic, run_eval_loop
from steward.demo.guard_steps import DOCUMENT_NAME, GuardScript, print_findings, register_document
from steward.demo.server import GatewayProcess
from steward.store.db import make_engine, session_factory
from steward.store.models import UsageEvent
from steward.usage.reports import report

console = Console()

ORG: dict[str, Any] = {
    "teams": ["support", "research"],
    "users": [("alice", "support"), ("bob", "support"), ("carol", "research")],
    "apps": [("helpdesk", "support", "alice"), ("insights", "research", "carol")],
    "agent": ("refund-bot", "alice", "support"),
}

ORDER_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Look up an order by its number",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}


class Admin:
    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=url + "/admin/v1", headers={"authorization": f"Bearer {key}"}
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=body)
        if r.status_code >= 300:
            raise RuntimeError(f"admin API {path}: {r.status_code} {r.text}")
        out: dict[str, Any] = r.json()
        return out


def build_org(admin: Admin) -> dict[str, str]:
    for team in ORG["teams"]:
        admin.post("/teams", {"name": team})
    for user, team in ORG["users"]:
        admin.post("/users", {"name": user, "email": f"{user}@example.com", "teams": [team]})
    for app, team, owner in ORG["apps"]:
        admin.post("/apps", {"name": app, "team": team, "owner": owner})
    agent, owner, team = ORG["agent"]
    admin.post("/agents", {"name": agent, "owner": owner, "team": team, "purpose": "refunds"})
    keys = {
        "alice": admin.post(
            "/keys", {"user": "alice", "app": "helpdesk", "name": "alice-helpdesk"}
        ),
        "bob": admin.post("/keys", {"user": "bob", "app": "helpdesk", "models": ["sim-fast"]}),
        "carol": admin.post("/keys", {"user": "carol", "app": "insights"}),
        "agent": admin.post("/keys", {"agent": agent, "name": "refund-bot"}),
    }
    return {name: k["key"] for name, k in keys.items()}


def wait_for_key(url: str, key: str, timeout_s: float = 5.0) -> None:
    """New keys reach the gateway's snapshot within a second; wait for that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(url + "/v1/models", headers={"authorization": f"Bearer {key}"})
        if r.status_code == 200:
            return
        time.sleep(0.05)
    raise RuntimeError("a new key did not reach the gateway in time")


Step = tuple[str, Callable[[], str]]


class Script:
    """The scripted requests, each through an official SDK, each returning a one-line result."""

    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url = url
        self.oa = {
            n: openai.OpenAI(base_url=url + "/v1", api_key=k, max_retries=0)
            for n, k in keys.items()
        }
        self.an = {
            n: anthropic.Anthropic(base_url=url, api_key=k, max_retries=0) for n, k in keys.items()
        }

    def chat(self) -> str:
        r = self.oa["alice"].chat.completions.create(
            model="sim-fast", messages=[{"role": "user", "content": "How do I reset my password?"}]
        )
        text = (r.choices[0].message.content or "")[:48]
        return f"{r.usage.total_tokens if r.usage else 0} tokens: {text}…"

    def stream(self) -> str:
        s = self.oa["carol"].chat.completions.create(
            model="sim-smart",
            messages=[{"role": "user", "content": "Summarise last quarter's churn drivers."}],
            stream=True,
        )
        parts = [c.choices[0].delta.content for c in s if c.choices and c.choices[0].delta.content]
        return f"{len(parts)} chunks streamed"

    def tools(self) -> str:
        r = self.oa["agent"].chat.completions.create(
            model="sim-fast",
            messages=[{"role": "user", "content": "Refund order 1042"}],
            tools=[ORDER_TOOL],  # type: ignore[list-item]
        )
        calls = r.choices[0].message.tool_calls or []
        names = [f"{c.function.name}({c.function.arguments})" for c in calls]  # type: ignore[union-attr]
        return "tool call: " + ", ".join(names)

    def messages(self) -> str:
        m = self.an["bob"].messages.create(
            model="sim-fast",
            max_tokens=200,
            messages=[{"role": "user", "content": "Hello from Anthropic's SDK"}],
        )
        u = m.usage
        return f"Messages API → sim (translated): {u.input_tokens}+{u.output_tokens} tokens"

    def messages_stream(self) -> str:
        with self.an["carol"].messages.stream(
            model="sim-smart", max_tokens=100, messages=[{"role": "user", "content": "A haiku"}]
        ) as s:
            text = s.get_final_text()
        return f"streamed {len(text)} characters"

    def embeddings(self) -> str:
        e = self.oa["carol"].embeddings.create(model="sim-embed", input=["refunds", "passwords"])
        return f"{len(e.data)} vectors of {len(e.data[0].embedding)} dimensions"

    def fallback(self) -> str:
        r = self.oa["alice"].chat.completions.create(
            model="sim-flaky", messages=[{"role": "user", "content": "Is the fallback working?"}]
        )
        return f"sim-flaky failed upstream; answered by {r.model}"

    def bad_key(self) -> str:
        bad = openai.OpenAI(base_url=self.url + "/v1", api_key="sk-stw-not-a-key", max_retries=0)
        try:
            bad.chat.completions.create(
                model="sim-fast", messages=[{"role": "user", "content": "hi"}]
            )
        except openai.AuthenticationError as exc:
            return f"401 {exc.code}: refused and audited"
        raise RuntimeError("an unknown key was accepted")

    def not_allowed(self) -> str:
        try:
            self.oa["bob"].chat.completions.create(
                model="sim-smart", messages=[{"role": "user", "content": "hi"}]
            )
        except openai.PermissionDeniedError as exc:
            return f"403 {exc.code}: bob's key is limited to sim-fast"
        raise RuntimeError("a model outside the key's list was allowed")

    def steps(self) -> list[Step]:
        steps: list[Step] = [
            ("alice · helpdesk · chat", self.chat),
            ("carol · insights · streaming chat", self.stream),
            ("refund-bot agent · tool call", self.tools),
            ("bob · helpdesk · Anthropic SDK", self.messages),
            ("carol · insights · Anthropic streaming", self.messages_stream),
            ("carol · insights · embeddings", self.embeddings),
            ("alice · fallback from sim-flaky", self.fallback),
            ("unknown key", self.bad_key),
            ("bob · model outside his key's list", self.not_allowed),
        ]
        for i in range(12):  # a little steady traffic so the summary has some weight
            who = ("alice", "bob", "carol")[i % 3]
            model = "sim-fast" if who == "bob" else ("sim-smart", "sim-fast")[i % 2]
            client = self.oa[who]
            steps.append((f"{who} · traffic #{i + 1}", functools.partial(_quick, client, model, i)))
        return steps


def _quick(client: openai.OpenAI, model: str, i: int) -> str:
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": f"Question {i}: what is our SLA for tier {i % 4}?"}],
    )
    return f"{model}: {r.usage.total_tokens if r.usage else 0} tokens"


def wait_for_events(url: str, expected: int, timeout_s: float = 15.0) -> int:
    engine = make_engine(url)
    sessions = session_factory(engine)
    deadline = time.monotonic() + timeout_s
    count = 0
    try:
        while time.monotonic() < deadline:
            with sessions() as s:
                count = s.query(UsageEvent).count()
            if count >= expected:
                break
            time.sleep(0.2)
    finally:
        engine.dispose()
    return count


def print_summary(db_url: str) -> None:
    """Usage by team, app and model, from the rollups (what `steward usage --by ...` prints)."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            for dim in ("team", "app", "model"):
                table = Table(title=f"Usage by {dim}", title_justify="left")
                for col in (dim, "requests", "errors", "input tok", "output tok", "cost (USD)"):
                    table.add_column(col, justify="left" if col == dim else "right")
                for row in report(s, [dim]):
                    table.add_row(
                        row.group[dim],
                        str(row.requests),
                        str(row.errors),
                        str(row.input_tokens),
                        str(row.output_tokens),
                        f"{row.cost_usd:.6f}",
                    )
                console.print(table)
    finally:
        engine.dispose()


def run_demo(port: int = 0, keep_running: bool = False) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="steward-demo-"))
    admin_key = "sk-stw-admin-" + secrets.token_urlsafe(24)
    config = write_demo_config(data_dir)
    gw = GatewayProcess(data_dir, port=port, admin_key=admin_key, config=config)
    console.rule("[bold]Steward demo: the embedded default (sim provider, SQLite)")
    console.print(f"data directory: {data_dir}")
    gw.start()
    try:
        console.print(f"gateway up at {gw.url}")
        t0 = time.monotonic()
        admin = Admin(gw.url, admin_key)
        keys = build_org(admin)
        register_document(admin.http)
        for key in keys.values():
            wait_for_key(gw.url, key)
        console.print(f"keys usable at the gateway {time.monotonic() - t0:.2f}s after creation")
        console.print(
            "organisation: teams support, research · users alice, bob, carol · "
            "apps helpdesk, insights · agent refund-bot (owner alice)"
        )
        console.print(
            f"guard: default profile everywhere; 'private' on insights; document "
            f"'{DOCUMENT_NAME}' registered (fingerprints only)"
        )
        failures = 0
        steps = (
            [healthy_traffic(gw.url, keys["alice"])]
            + Script(gw.url, keys).steps()
            + GuardScript(gw.url, keys).steps()
        )
        steps += AgentScript(gw.url, admin.http, keys).steps()
        for label, step in steps:
            try:
                console.print(f"  [green]✓[/] {label}: {step()}")
            except Exception as exc:  # the demo reports every step, then fails at the end
                failures += 1
                console.print(f"  [red]✗[/] {label}: {type(exc).__name__}: {exc}")
        label = "dave · spends a $0.001 daily budget"
        try:
            console.print(f"  [green]✓[/] {label}: {BudgetStep(gw.url, admin.http).run()}")
        except Exception as exc:
            failures += 1
            console.print(f"  [red]✗[/] {label}: {type(exc).__name__}: {exc}")
        db_url = f"sqlite:///{data_dir / 'steward.db'}"
        stored = wait_for_events(db_url, len(steps))
        console.print(f"usage events in the ledger: {stored} for {len(steps)} requests")
        print_summary(db_url)
        print_findings(console, db_url)
        alerts = threshold_alerts(db_url)
        for alert in alerts:
            console.print(f"budget alert (audit event; sent to webhooks when configured): {alert}")
        if not alerts:
            failures += 1
            console.print("[red]✗[/] no budget alert was recorded")
        print_shadow_ai(console, db_url, admin.http)
        failures += run_eval_loop(console, gw.url, keys["alice"], db_url)
        console.print(
            f"Admin API: {gw.url}/admin/v1 (OpenAPI {gw.url}/openapi.json, docs {gw.url}/docs)"
        )
        console.print(f"Admin key for this run: {admin_key}")
        if keep_running:
            console.print("Gateway keeps running; press Ctrl+C to stop.")
            while True:
                time.sleep(3600)
        return 1 if failures or stored < len(steps) else 0
    except KeyboardInterrupt:
        return 0
    finally:
        gw.stop()
