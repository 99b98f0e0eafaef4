"""The demo's data-protection steps: secrets and a card redacted before the model sees them, a
reversible pseudonymization round trip, and a registered confidential document that may not
leak; then what the guard recorded (never the values)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import httpx
import openai
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from steward.store.db import make_engine, session_factory
from steward.store.models import GuardFinding

DOCUMENT_NAME = "bluebird-launch-plan"


def confidential_text() -> str:
    return resources.files("steward.demo").joinpath("data/bluebird-plan.txt").read_text("utf-8")


def register_document(admin: httpx.Client) -> str:
    r = admin.post("/guard/documents", json={"name": DOCUMENT_NAME, "text": confidential_text()})
    if r.status_code >= 300:
        raise RuntimeError(f"registering the document failed: {r.status_code} {r.text}")
    return DOCUMENT_NAME


class GuardScript:
    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.alice = openai.OpenAI(base_url=url + "/v1", api_key=keys["alice"], max_retries=0)
        self.carol = openai.OpenAI(base_url=url + "/v1", api_key=keys["carol"], max_retries=0)

    def secrets_redacted(self) -> str:
        r = self.alice.chat.completions.create(
            model="sim-fast",
            messages=[
                {
                    "role": "user",
                    "content": "Charge card 4111 1111 1111 1111 using key "
                    "sk-proj-Zq3vX9aB7cD1eF5gH2iJ8kL4mN6oP0qRsTuVwXyZ12345",
                }
            ],
        )
        text = r.choices[0].message.content or ""
        if "4111" in text or "sk-proj" in text:
            raise RuntimeError("a secret reached the model")
        if "[CREDIT_CARD]" not in text or "[OPENAI_API_KEY]" not in text:
            raise RuntimeError(f"expected the simulator to echo the redaction marks: {text[:80]}")
        return "the model saw [CREDIT_CARD] and [OPENAI_API_KEY]; the values never left Steward"

    def pseudonymized(self) -> str:
        r = self.carol.chat.completions.create(
            model="sim-fast",
            messages=[{"role": "user", "content": "Draft a reply to jane.doe@example.com today"}],
        )
        text = r.choices[0].message.content or ""
        if "jane.doe@example.com" not in text or "<EMAIL_ADDRESS_1>" in text:
            raise RuntimeError(f"the pseudonym was not restored: {text[:80]}")
        return "the model saw <EMAIL_ADDRESS_1>; the answer has the real address restored"

    def document_blocked(self) -> str:
        passage = " ".join(confidential_text().split()[40:110])
        try:
            self.carol.chat.completions.create(
                model="sim-smart",
                messages=[{"role": "user", "content": f"Summarise this for a customer: {passage}"}],
            )
        except openai.BadRequestError as exc:
            return f"400 {exc.code}: a passage of '{DOCUMENT_NAME}' was stopped"
        raise RuntimeError("a registered confidential document was sent to the model")

    def steps(self) -> list[tuple[str, Any]]:
        return [
            ("alice · card number and API key in a prompt", self.secrets_redacted),
            ("carol · personal data, pseudonymized and restored", self.pseudonymized),
            ("carol · pastes a confidential document", self.document_blocked),
        ]


def print_findings(console: Console, db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(
                select(
                    GuardFinding.direction,
                    GuardFinding.entity,
                    GuardFinding.data_class,
                    GuardFinding.action,
                    GuardFinding.profile,
                    func.sum(GuardFinding.count),
                )
                .group_by(
                    GuardFinding.direction,
                    GuardFinding.entity,
                    GuardFinding.data_class,
                    GuardFinding.action,
                    GuardFinding.profile,
                )
                .order_by(func.sum(GuardFinding.count).desc())
            ).all()
    finally:
        engine.dispose()
    table = Table(title="Guard findings (values are never stored)", title_justify="left")
    for col in ("direction", "entity", "class", "action", "profile", "count"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)
