"""Request contexts and stored samples for the evaluation tests."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from steward.gateway.context import RequestContext
from steward.identity.snapshot import Principal
from steward.store.models_evals import EvalSample


def principal(app: str | None = "app-1") -> Principal:
    return Principal(
        key_id="key-1",
        key_prefix="sk-stw-abc",
        kind="app",
        user_id=None,
        team_id="team-1",
        app_id=app,
        agent_id=None,
        service_account_id=None,
        allowed_models=None,
        expires_at=None,
        suspended=None,
    )


def chat_context(
    question: str, answer: str, *, status: int = 200, stream: bool = False, **body: Any
) -> RequestContext:
    ctx = RequestContext(
        request_id=str(uuid.uuid4()),
        endpoint="chat",
        wire="openai",
        started=time.perf_counter(),
        received_at=datetime.now(UTC),
        headers={},
        body={"model": "gpt", "messages": [{"role": "user", "content": question}], **body},
        stream=stream,
        principal=principal(),
        model_alias="gpt",
        status=status,
        finish_reason="stop",
        latency_ms=42.0,
    )
    ctx.response = {
        "id": "chatcmpl-1",
        "choices": [{"message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
    }
    return ctx


def add_sample(
    sessions: sessionmaker[Session], question: str, answer: str, **fields: Any
) -> EvalSample:
    row = EvalSample(
        id=str(uuid.uuid4()),
        ts=fields.pop("ts", datetime.now(UTC)),
        request_id=str(uuid.uuid4()),
        response_id="chatcmpl-x",
        endpoint="chat",
        stream=False,
        app_id=fields.pop("app_id", "app-1"),
        team_id="team-1",
        model=fields.pop("model", "gpt"),
        messages=[{"role": "user", "content": question}],
        answer=answer,
        finish_reason=fields.pop("finish_reason", "stop"),
        latency_ms=fields.pop("latency_ms", 100.0),
        input_tokens=10,
        output_tokens=20,
        redactions=0,
        **fields,
    )
    with sessions.begin() as s:
        s.add(row)
    return row
