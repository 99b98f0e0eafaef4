"""A real Steward gateway process for end-to-end tests, with helpers to provision principals
through the admin API and to read what reached the store."""

from __future__ import annotations

import os
import secrets
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import select

from steward.demo.server import GatewayProcess
from steward.store.db import make_engine, session_factory
from steward.store.models import AuditEvent, UsageEvent

ADMIN_KEY = "sk-stw-admin-e2e-" + "x" * 24
UPSTREAM_KEY = "upstream-secret-key"


def gateway_config(upstream_base: str, database_url: str, **overrides: Any) -> dict[str, Any]:
    """Providers: the fake upstream in both wire formats, and the simulator."""
    fast = {"retries": 1, "backoff_ms": 10, "timeout_s": 10}
    cfg: dict[str, Any] = {
        "database_url": database_url,
        "server": {"state_poll_ms": 200, "max_body_bytes": 64 * 1024},
        "spool": {"ship_interval_ms": 50},
        "providers": {
            "up-openai": {
                "kind": "openai",
                "base_url": upstream_base + "/v1",
                "api_key": "${E2E_UPSTREAM_KEY}",
                **fast,
            },
            "up-anthropic": {
                "kind": "anthropic",
                "base_url": upstream_base,
                "api_key": "${E2E_UPSTREAM_KEY}",
                **fast,
            },
            "sim": {"kind": "sim"},
        },
        "models": [
            {"name": "gpt-test", "provider": "up-openai", "upstream_model": "gpt-4o-mini"},
            {
                "name": "claude-test",
                "provider": "up-anthropic",
                "upstream_model": "claude-haiku-4-5",
            },
            {
                "name": "gpt-cached",
                "provider": "up-openai",
                "upstream_model": "cached-reasoning",
                "price": {
                    "input_per_mtok": 1.0,
                    "output_per_mtok": 4.0,
                    "cache_read_per_mtok": 0.1,
                },
            },
            {
                "name": "claude-cache-write",
                "provider": "up-anthropic",
                "upstream_model": "cache-write",
                "price": {
                    "input_per_mtok": 3.0,
                    "output_per_mtok": 15.0,
                    "cache_read_per_mtok": 0.3,
                    "cache_write_per_mtok": 3.75,
                },
            },
            {
                "name": "claude-cached",
                "provider": "up-anthropic",
                "upstream_model": "claude-cached",
                "price": {
                    "input_per_mtok": 3.0,
                    "output_per_mtok": 15.0,
                    "cache_read_per_mtok": 0.3,
                    "cache_write_per_mtok": 3.75,
                },
            },
            {
                "name": "broken",
                "provider": "up-openai",
                "upstream_model": "fail-503",
                "fallbacks": ["claude-test"],
            },
            {"name": "broken-alone", "provider": "up-openai", "upstream_model": "fail-500"},
            {"name": "refused", "provider": "up-openai", "upstream_model": "fail-400"},
            {"name": "flaky", "provider": "up-openai", "upstream_model": "flaky-1-gpt-4o-mini"},
            {"name": "hangs", "provider": "up-openai", "upstream_model": "hang", "timeout_s": 1},
            {
                "name": "emb",
                "provider": "up-openai",
                "kind": "embedding",
                "upstream_model": "text-embedding-3-small",
            },
            {"name": "unpriced", "provider": "up-openai", "upstream_model": "my-own-finetune-7b"},
            {
                "name": "sim-fast",
                "provider": "sim",
                "upstream_model": "sim-fast-1",
                "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.6},
            },
        ],
    }
    cfg.update(overrides)
    return cfg


class Gateway:
    """A running gateway and what a test needs around it."""

    def __init__(self, tmp: Path, upstream_base: str, database_url: str, **overrides: Any) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.database_url = database_url
        self.config_path = tmp / "steward.yaml"
        self.config_path.write_text(
            yaml.safe_dump(gateway_config(upstream_base, database_url, **overrides))
        )
        self.proc = GatewayProcess(
            tmp,
            config=self.config_path,
            admin_key=ADMIN_KEY,
            extra_env={"E2E_UPSTREAM_KEY": UPSTREAM_KEY, "STEWARD_LOG_LEVEL": "warning"},
        )
        self.admin = httpx.Client(headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
        self._engine = make_engine(database_url)
        self._sessions = session_factory(self._engine)

    @property
    def url(self) -> str:
        return self.proc.url

    def start(self) -> Gateway:
        self.proc.start()
        return self

    def stop(self) -> None:
        self.proc.stop()

    def kill(self) -> None:
        if self.proc.proc is not None:
            self.proc.proc.send_signal(signal.SIGKILL)
            self.proc.proc.wait(10)

    def close(self) -> None:
        self.stop()
        self.admin.close()
        self._engine.dispose()

    # -- provisioning through the admin API -------------------------------------------------
    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.admin.request(method, f"{self.url}/admin/v1{path}", json=body)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        out: dict[str, Any] = r.json()
        return out

    def org(self) -> dict[str, str]:
        """A fresh team, user and app (unique names), returned by role."""
        tag = uuid.uuid4().hex[:8]
        team, user, app = f"team-{tag}", f"user-{tag}", f"app-{tag}"
        self.api("POST", "/teams", {"name": team})
        self.api("POST", "/users", {"name": user, "teams": [team]})
        self.api("POST", "/apps", {"name": app, "team": team, "owner": user})
        return {"team": team, "user": user, "app": app}

    def key(self, wait: bool = True, **body: Any) -> dict[str, Any]:
        """Create a key (body as for POST /admin/v1/keys) and wait until the gateway knows it."""
        out = self.api("POST", "/keys", body)
        if wait:
            self.wait_usable(out["key"])
        return out

    def user_key(self, **extra: Any) -> tuple[str, dict[str, str], dict[str, Any]]:
        org = self.org()
        created = self.key(user=org["user"], team=org["team"], app=org["app"], **extra)
        return created["key"], org, created

    def wait_usable(self, key: str, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            r = httpx.get(f"{self.url}/v1/models", headers={"authorization": f"Bearer {key}"})
            if r.status_code == 200:
                return
            time.sleep(0.05)
        raise AssertionError("key did not reach the gateway")

    # -- what reached the store ---------------------------------------------------------------
    def usage(self, request_id: str, timeout_s: float = 10.0) -> UsageEvent:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._sessions() as s:
                row = s.scalars(
                    select(UsageEvent).where(UsageEvent.request_id == request_id)
                ).first()
            if row is not None:
                return row
            time.sleep(0.05)
        raise AssertionError(f"no usage event for request {request_id}")

    def audit(self, request_id: str, timeout_s: float = 10.0) -> AuditEvent:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._sessions() as s:
                row = s.scalars(
                    select(AuditEvent).where(AuditEvent.request_id == request_id)
                ).first()
            if row is not None:
                return row
            time.sleep(0.05)
        raise AssertionError(f"no audit event for request {request_id}")

    def usage_ids(self) -> list[str]:
        with self._sessions() as s:
            return list(s.scalars(select(UsageEvent.request_id)))


def unique_marker() -> str:
    return secrets.token_hex(6)


os.environ.setdefault("E2E_UPSTREAM_KEY", UPSTREAM_KEY)
