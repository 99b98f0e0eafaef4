"""The demo's spend-control step: a small daily budget on one user, spent down through the
gateway until a request is refused with 429 budget_exceeded, with its threshold alerts."""

from __future__ import annotations

import time

import httpx
import openai
from sqlalchemy import select

from steward.store.db import make_engine, session_factory
from steward.store.models import AuditEvent

BUDGET = "dave-daily"


class BudgetStep:
    def __init__(self, url: str, admin: httpx.Client) -> None:
        self.url = url
        self.admin = admin

    def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        r = self.admin.post(path, json=body)
        if r.status_code >= 300:
            raise RuntimeError(f"admin API {path}: {r.status_code} {r.text}")
        out: dict[str, object] = r.json()
        return out

    def run(self) -> str:
        self._post("/users", {"name": "dave", "teams": ["research"]})
        key = str(self._post("/keys", {"user": "dave", "app": "insights"})["key"])
        self._post(
            "/budgets",
            {
                "scope": "user",
                "target": "dave",
                "amount_usd": "0.001",
                "period": "day",
                "alerts": [50, 80, 100],
                "hard": True,
                "name": BUDGET,
            },
        )
        client = openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0)
        time.sleep(1.0)  # the new key and budget reach the gateway's snapshot within a second
        for n in range(1, 301):
            try:
                client.chat.completions.create(
                    model="sim-fast",
                    max_tokens=60,
                    messages=[{"role": "user", "content": f"Weekly digest item {n}"}],
                )
            except openai.RateLimitError as exc:
                if exc.code != "budget_exceeded":
                    raise
                return f"request {n} refused: 429 budget_exceeded ({BUDGET}, $0.001 a day)"
        raise RuntimeError("the budget never refused a request")


def threshold_alerts(db_url: str, timeout_s: float = 10.0) -> list[str]:
    """The budget alerts recorded as audit events (shipped asynchronously)."""
    engine = make_engine(db_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with session_factory(engine)() as s:
                rows = list(
                    s.scalars(select(AuditEvent).where(AuditEvent.action == "budget.threshold"))
                )
            if len(rows) >= 3 or time.monotonic() > deadline:
                return [f"{r.target_id}: {r.reason or ''}".strip() for r in rows]
            time.sleep(0.2)
    finally:
        engine.dispose()
