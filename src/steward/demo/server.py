"""Run a Steward gateway as a child process on loopback (used by the demo; tests have their own)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """`steward serve` in a child process, waited on until /healthz answers."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        config: Path | None = None,
        admin_key: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.config = config
        self.admin_key = admin_key
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> None:
        env = {
            **os.environ,
            "STEWARD_DATA_DIR": str(self.data_dir),
            "STEWARD_ADMIN_KEY": self.admin_key,
        }
        env.update(self.extra_env)
        cmd = [sys.executable, "-m", "steward", "serve", "--port", str(self.port)]
        if self.config:
            cmd += ["--config", str(self.config)]
        with open(self.data_dir / "gateway.log", "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited early; see {self.data_dir / 'gateway.log'}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()  # never leave a half-started gateway behind
        raise RuntimeError(
            f"gateway did not start in {timeout_s}s; see {self.data_dir / 'gateway.log'}"
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
