"""Steward gateway benchmark: Steward side by side with a bare Python pass-through proxy.

Three processes on loopback: a fast fake OpenAI upstream (bench/fake_upstream.py), a bare
pass-through proxy (bench/passthrough.py, the floor for a Python gateway) and `steward serve`
with keys, routing, pricing and durable usage events all on (bench/steward.yaml). wrk drives
them with a ~1 KB chat-completions POST (bench/chat.lua); the built-in bench/pyload.py is used
only when wrk cannot be installed. Rounds interleave the targets (alternating order) and the
report gives medians across rounds. See bench/README.md.

    .venv/bin/python bench/gateway_bench.py [--rounds 3] [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
PY = sys.executable
HOST = "127.0.0.1"
CHAT_PATH = "/v1/chat/completions"
MODEL = "bench"

TARGET_RATIO = 0.5  # Steward req/s >= half the pass-through's
TARGET_ADDED_P50_MS = 0.5  # Steward p50 at most 0.5 ms above the pass-through's
TARGET_RSS_MB = 150.0  # Steward peak RSS
NOISY_CPUS = 0.25  # background load above which the report warns
QUIET_CPUS = 0.15  # before a run, wait (bounded) until the background load is below this
POOL_SETTLE_S = 6.0  # > keep-alive expiry of httpx and uvicorn (5 s): pools shrink back

NAMES = {"upstream": "upstream (direct)", "passthrough": "pass-through", "steward": "Steward"}
ERROR_KINDS = ("connect", "read", "write", "status", "timeout")


class BenchError(Exception):
    """The benchmark could not run (setup failed); the message says why."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if cpus is not None else cmd


class Service:
    """A child process (optionally pinned to CPUs) with its log in the work directory."""

    def __init__(
        self, name: str, cmd: list[str], cpus: str | None, env: dict[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.cmd = pinned(cmd, cpus)
        self.cpus = cpus
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            # taskset execs the command, so the pid is the server's own.
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
            )

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited early; log {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, probe: str, ok: Callable[[], bool], timeout_s: float) -> None:
        """Poll until `ok()` is true (bounded by `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if ok():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise BenchError(
            f"{self.name}: {probe} not ready after {timeout_s:g}s; log {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def status_kb(self, field_name: str) -> int | None:
        """A `/proc/<pid>/status` memory field (VmHWM: peak RSS, VmRSS: current) in kB."""
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        return None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# -- load generation -----------------------------------------------------------------------------


@dataclass
class Run:
    target: str
    mode: str  # warmup | capacity | throughput | latency | profile
    round: int
    connections: int
    duration_s: float
    requests: int
    rps: float
    errors: dict[str, int]
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # CPU seconds used by the server under test during the run (all its threads), per request,
    # and CPU used by processes that are not part of the benchmark, in CPUs (1.0 = one core).
    server_cpu_s: float = 0.0
    server_cpu_us_per_request: float = 0.0
    background_cpus: float = 0.0
    quiet_wait_s: float = 0.0

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


class LoadGenerator:
    """wrk with bench/chat.lua, or the built-in bench/pyload.py (same result line)."""

    def __init__(self, kind: str, cpus: str | None, threads: int, body_file: Path) -> None:
        self.kind = kind
        self.cpus = cpus
        self.threads = threads
        self.body_file = body_file
        self.version = self._version()

    def _version(self) -> str:
        if self.kind != "wrk":
            return f"bench/pyload.py (Python {platform.python_version()})"
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
        first = (out.stdout + out.stderr).strip().splitlines()
        return first[0] if first else "wrk (unknown version)"

    def command(self, url: str, connections: int, duration_s: int, key: str) -> list[str]:
        if self.kind == "wrk":
            threads = max(1, min(self.threads, connections))
            cmd = [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration_s}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(BENCH / "chat.lua"),
                url,
            ]
        else:
            cmd = [
                PY,
                str(BENCH / "pyload.py"),
                "--url",
                url,
                "--connections",
                str(connections),
                "--duration",
                str(duration_s),
                "--body-file",
                str(self.body_file),
                "--key",
                key,
            ]
        return pinned(cmd, self.cpus)

    def run(
        self,
        target: str,
        mode: str,
        rnd: int,
        url: str,
        connections: int,
        duration_s: int,
        key: str,
    ) -> Run:
        env = {**os.environ, "BENCH_BODY_FILE": str(self.body_file), "BENCH_API_KEY": key}
        cmd = self.command(url, connections, duration_s, key)
        try:
            out = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=duration_s + 60
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"load generator did not finish: {' '.join(cmd)}") from exc
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
        if out.returncode != 0 or line is None:
            raise BenchError(
                f"load generator failed (exit {out.returncode}): {' '.join(cmd)}\n"
                f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
            )
        data = json.loads(line.removeprefix("BENCH_RESULT "))
        lat = data["latency_us"]
        seconds = max(1e-9, data["duration_us"] / 1e6)
        return Run(
            target=target,
            mode=mode,
            round=rnd,
            connections=connections,
            duration_s=round(seconds, 3),
            requests=int(data["requests"]),
            rps=round(data["requests"] / seconds, 1),
            errors={k: int(data["errors"][k]) for k in ERROR_KINDS},
            mean_ms=round(lat["mean"] / 1000, 4),
            p50_ms=round(lat["p50"] / 1000, 4),
            p90_ms=round(lat["p90"] / 1000, 4),
            p99_ms=round(lat["p99"] / 1000, 4),
            max_ms=round(lat["max"] / 1000, 4),
        )


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def busy_cpu_s() -> float:
    """CPU seconds all CPUs spent in user and system mode since boot (/proc/stat; interrupts,
    which loopback networking is partly accounted to, are left out)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system = fields[:3]
    return (user + nice + system) / CLOCK_TICKS


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu_s() -> float:
    """CPU of this script and of its waited-for children (the load generator runs)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _apt_install_wrk() -> bool:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        log("cannot install wrk: apt-get is missing or this is not root")
        return False

    def install() -> bool:
        res = subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return res.returncode == 0 and shutil.which("wrk") is not None

    log("wrk is not installed: apt-get install -y wrk")
    if install():
        return True
    log("install failed: apt-get update, then apt-get install -y wrk again")
    subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
    return install()


def choose_load_generator(wanted: str) -> tuple[str, str]:
    """('wrk'|'python', note)."""
    if wanted == "python":
        return "python", "built-in Python load generator (asked for with --load-generator python)"
    if shutil.which("wrk") is None:
        try:
            ok = _apt_install_wrk()
        except (OSError, subprocess.TimeoutExpired) as exc:
            log(f"installing wrk failed: {exc}")
            ok = False
        if not ok:
            if wanted == "wrk":
                raise BenchError("wrk is not installed and could not be installed")
            msg = (
                "wrk could not be installed: FALLING BACK to the built-in Python load generator "
                "(bench/pyload.py). Its figures are lower than wrk's and not comparable with them."
            )
            print(f"\n*** {msg}\n", file=sys.stderr, flush=True)
            return "python", msg
    return "wrk", "wrk"


# -- the work directory, config and identities -----------------------------------------------


def chat_body(size: int = 1024) -> bytes:
    """An OpenAI chat-completions body of about `size` bytes (one user message)."""
    words = (
        "Steward measures its own overhead against a bare pass-through proxy on the same "
        "machine in the same run so that every claim of speed is checked side by side. "
    )
    base = {"model": MODEL, "messages": [{"role": "user", "content": ""}], "max_tokens": 64}
    room = size - len(json.dumps(base, separators=(",", ":")).encode())
    text = (words * (room // len(words) + 1))[: max(0, room - 1)] + "."
    base["messages"] = [{"role": "user", "content": text}]
    return json.dumps(base, separators=(",", ":")).encode()


def parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise BenchError(f"--steward-config-override wants KEY=VALUE (spool.sync=write): {item}")
    return key.strip().split("."), yaml.safe_load(raw)


def apply_override(config: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = config
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise BenchError(f"override {'.'.join(path)}: no list item {part}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise BenchError(f"override {'.'.join(path)}: {part} is inside a scalar")


def steward_config(work: Path, overrides: Sequence[str]) -> tuple[Path, dict[str, Any]]:
    base = BENCH / "steward.yaml"
    config = yaml.safe_load(base.read_text())
    if not overrides:
        return base, config
    for item in overrides:
        path, value = parse_override(item)
        apply_override(config, path, value)
    out = work / "steward.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out, config


def pool_size(config: dict[str, Any]) -> int:
    """max_connections of the provider serving the benchmark model (the pass-through uses the
    same pool size)."""
    model: dict[str, Any] = next(
        (m for m in config.get("models", []) if m.get("name") == MODEL), {}
    )
    provider = config.get("providers", {}).get(model.get("provider"), {})
    return int(provider.get("max_connections", 100))


def provision_key(base_url: str, admin_key: str) -> str:
    """Team, user and API key through the admin API; returns the key."""
    headers = {"authorization": f"Bearer {admin_key}", "content-type": "application/json"}
    calls = [
        ("/admin/v1/teams", {"name": "bench"}),
        ("/admin/v1/users", {"name": "bench-user", "teams": ["bench"]}),
        ("/admin/v1/keys", {"user": "bench-user", "name": "bench"}),
    ]
    data: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        for path, body in calls:
            resp = client.post(path, json=body)
            if resp.status_code not in (200, 201):
                raise BenchError(f"POST {path} -> {resp.status_code}: {resp.text[:500]}")
            data = resp.json()
    return str(data["key"])


def provision_budgets(base_url: str, admin_key: str, key: str) -> None:
    """--budgets: hard budgets on the benchmark's key, user, team and the organisation (and one
    on the model), large enough never to refuse, so every request reserves and settles four
    counters; then wait until Steward enforces them (one request shows the reservation)."""
    headers = {"authorization": f"Bearer {admin_key}", "content-type": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        keys = client.get("/admin/v1/keys", params={"user": "bench-user"}).json()
        bodies = [
            {"scope": "key", "target": keys[0]["id"], "period": "day"},
            {"scope": "user", "target": "bench-user", "period": "week"},
            {"scope": "team", "target": "bench", "window": "7d"},
            {"scope": "org", "period": "month", "model": MODEL},
        ]
        for body in bodies:
            resp = client.post("/admin/v1/budgets", json={**body, "amount_usd": 1_000_000_000})
            if resp.status_code != 201:
                raise BenchError(f"POST /admin/v1/budgets -> {resp.status_code}: {resp.text[:500]}")
    time.sleep(1.5)  # > server.state_poll_ms: every budget is in Steward's snapshot
    log("budgets: key (day), user (week), team (rolling 7d), organisation (month, model)")


def check_chat(url: str, key: str) -> None:
    """One request through `url`: must be a 200 chat.completion with usage."""
    resp = httpx.post(
        url + CHAT_PATH,
        content=chat_body(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        timeout=30.0,
    )
    ok = resp.status_code == 200
    if ok:
        data = resp.json()
        ok = isinstance(data, dict) and bool(data.get("choices")) and "usage" in data
    if not ok:
        raise BenchError(f"POST {url}{CHAT_PATH} -> {resp.status_code}: {resp.text[:500]}")


def wait_spool_shipped(steward: Service, url: str, timeout_s: float = 30.0) -> None:
    """Let Steward's shipper drain the spool before the next run (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        steward.check_alive()
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(url + "/healthz", timeout=5.0).json().get("spool_depth") == 0:
                return
        time.sleep(0.1)
    log(f"warning: Steward's spool was not drained after {timeout_s:g}s")


def count_usage_events(db: Path) -> dict[int, int]:
    """Chat usage events in Steward's SQLite store, by HTTP status."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(
            "SELECT status, COUNT(*) FROM usage_events WHERE endpoint = 'chat' GROUP BY status"
        ).fetchall()
    finally:
        conn.close()
    return {int(status): int(n) for status, n in rows}


# -- machine facts -------------------------------------------------------------------------------


def machine_info(work: Path) -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_mb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        mem_mb = int(first.split()[1]) // 1024
    fs = ""
    with contextlib.suppress(OSError):
        best = ""
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(work).startswith(parts[1]) and len(parts[1]) >= len(best):
                best, fs = parts[1], parts[2]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_mb": mem_mb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "work_dir_filesystem": fs,
    }


def steward_revision() -> str:
    """The git commit of the Steward under test, '+dirty' when src/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def cpu_plan(no_pin: bool) -> tuple[str | None, str | None, str]:
    """(proxy CPUs, upstream + load generator CPUs, description)."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or shutil.which("taskset") is None or len(cpus) < 2:
        why = "--no-pin" if no_pin else ("no taskset" if len(cpus) >= 2 else "one CPU")
        return None, None, f"not pinned ({why})"
    proxy, rest = str(cpus[0]), ",".join(str(c) for c in cpus[1:])
    return (
        proxy,
        rest,
        (
            f"proxy under test (pass-through or Steward) on CPU {proxy}; fake upstream, load "
            f"generator and this script on CPU {rest}"
        ),
    )


# -- profiling ----------------------------------------------------------------------------------


def profile_steward(
    steward: Service,
    lg: LoadGenerator,
    url: str,
    key: str,
    connections: int,
    duration_s: int,
    cpus: str | None,
    out: Path,
) -> dict[str, Any]:
    """py-spy (sampling, non-blocking) on Steward during one extra throughput run."""
    pyspy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if not Path(pyspy).exists():
        log("--profile: py-spy not found (.venv/bin/pip install py-spy); skipped")
        return {"error": "py-spy not installed"}
    cmd = pinned(
        [
            pyspy,
            "record",
            "--nonblocking",
            "--threads",
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "-d",
            str(duration_s + 2),
            "-p",
            str(steward.pid),
        ],
        cpus,
    )
    spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    run = lg.run("steward", "profile", 0, url, connections, duration_s, key)
    try:
        _, err = spy.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, err = spy.communicate(timeout=10)
    if spy.returncode != 0 or not out.exists():
        log(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
        return {"error": "py-spy failed", "run": asdict(run)}
    return {"file": str(out), "run": asdict(run), **summarise_profile(out)}


def _frame_name(frame: str) -> str:
    """'func (path/to/file.py:123)' -> 'func (file.py)' with a path relative to site-packages."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


def _package(frame: str) -> str:
    """'func (httpcore/_async/http11.py)' -> 'httpcore'; Steward's own code by subpackage."""
    path = frame.rpartition(" (")[2].rstrip(")")
    parts = path.split("/")
    if parts[0] == "steward" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0] if len(parts) > 1 else path


def summarise_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Own time (leaf frames) by function and by package, inclusive time, and thread shares
    from py-spy's raw (collapsed) output recorded with --threads."""
    own: Counter[str] = Counter()
    own_main: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        raw = [f for f in stack.split(";") if f]
        thread = "?"
        if raw and raw[0].startswith("thread ("):
            thread = raw.pop(0).partition(": ")[2] or raw[0]
        frames = [_frame_name(f) for f in raw]
        if not frames:
            continue
        total += n
        threads[thread] += n
        own[frames[-1]] += n
        packages[_package(frames[-1])] += n
        if thread == "MainThread":
            own_main[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n

    def share(counter: Counter[str], key: str = "function") -> list[dict[str, Any]]:
        return [
            {key: name, "samples": n, "percent": round(100.0 * n / max(1, total), 1)}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "note": "percent of all samples (all threads, idle waits excluded)",
        "threads": share(threads, "thread"),
        "top_own_by_package": share(packages, "package"),
        "top_own": share(own),
        "top_own_event_loop": share(own_main),
        "top_inclusive": share(inclusive),
    }


# -- the procedure -----------------------------------------------------------------------------


@dataclass
class Setup:
    work: Path
    lg: LoadGenerator
    upstream: Service
    passthrough: Service
    steward: Service
    urls: dict[str, str]
    key: str
    steward_db: Path
    config: dict[str, Any]
    quiet_wait_s: float = 0.0
    runs: list[Run] = field(default_factory=list)


def start_services(
    args: argparse.Namespace, work: Path, proxy_cpus: str | None, lg_cpus: str | None
) -> tuple[Service, Service, Service, str, dict[str, Any]]:
    ports = {name: free_port() for name in ("upstream", "passthrough", "steward")}
    env = dict(os.environ)
    upstream = Service(
        "fake upstream",
        [PY, str(BENCH / "fake_upstream.py"), "--port", str(ports["upstream"])],
        lg_cpus,
        env,
        work / "upstream.log",
    )
    upstream_url = f"http://{HOST}:{ports['upstream']}"
    config_path, config = steward_config(work, args.steward_config_override)
    pool = pool_size(config)
    passthrough = Service(
        "pass-through",
        [
            PY,
            str(BENCH / "passthrough.py"),
            "--port",
            str(ports["passthrough"]),
            "--upstream",
            upstream_url,
            "--max-connections",
            str(pool),
        ],
        proxy_cpus,
        env,
        work / "passthrough.log",
    )
    admin_key = "sk-stw-admin-bench-" + secrets.token_urlsafe(24)
    data_dir = work / "steward-data"
    data_dir.mkdir()
    steward_env = {
        **env,
        "STEWARD_DATA_DIR": str(data_dir),
        "STEWARD_ADMIN_KEY": admin_key,
        "BENCH_UPSTREAM_URL": upstream_url + "/v1",
    }
    for name in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_REDIS_URL"):
        steward_env.pop(name, None)
    steward = Service(
        "Steward",
        [
            PY,
            "-m",
            "steward",
            "serve",
            "--port",
            str(ports["steward"]),
            "--config",
            str(config_path),
        ],
        proxy_cpus,
        steward_env,
        work / "steward.log",
    )
    for svc in (upstream, passthrough, steward):
        svc.start()
    return (
        upstream,
        passthrough,
        steward,
        admin_key,
        {
            "ports": ports,
            "config_path": str(config_path),
            "pool_max_connections": pool,
            "config": config,
            "data_dir": str(data_dir),
        },
    )


def prepare(setup: Setup, admin_key: str) -> None:
    urls = setup.urls

    def chat_ok(url: str) -> bool:
        resp = httpx.post(
            url + CHAT_PATH,
            content=chat_body(),
            timeout=2.0,
            headers={"content-type": "application/json"},
        )
        return resp.status_code == 200

    setup.upstream.wait_until("POST " + CHAT_PATH, lambda: chat_ok(urls["upstream"]), 30)
    setup.passthrough.wait_until("POST " + CHAT_PATH, lambda: chat_ok(urls["passthrough"]), 30)
    setup.steward.wait_until(
        "/healthz",
        lambda: httpx.get(urls["steward"] + "/healthz", timeout=2.0).status_code == 200,
        90,
    )
    setup.key = provision_key(urls["steward"], admin_key)
    setup.steward.wait_until(
        "GET /v1/models with the new key",
        lambda: (
            httpx.get(
                urls["steward"] + "/v1/models",
                timeout=2.0,
                headers={"authorization": f"Bearer {setup.key}"},
            ).status_code
            == 200
        ),
        30,
    )
    for name in ("upstream", "passthrough", "steward"):
        check_chat(urls[name], setup.key)


def background_cpus(setup: Setup, window_s: float = 1.0) -> float:
    """CPU used by processes outside the benchmark over `window_s`, in CPUs."""
    procs = (setup.upstream, setup.passthrough, setup.steward)
    ours0 = sum(process_cpu_s(p.pid) for p in procs) + own_cpu_s()
    busy0, t0 = busy_cpu_s(), time.monotonic()
    time.sleep(window_s)
    ours = sum(process_cpu_s(p.pid) for p in procs) + own_cpu_s() - ours0
    return max(0.0, busy_cpu_s() - busy0 - ours) / max(1e-6, time.monotonic() - t0)


def wait_quiet(setup: Setup) -> float:
    """Wait, at most `setup.quiet_wait_s`, for other processes to leave the CPUs alone."""
    started = time.monotonic()
    deadline = started + setup.quiet_wait_s
    while time.monotonic() < deadline:
        if background_cpus(setup) < QUIET_CPUS:
            break
    return round(time.monotonic() - started, 1)


def measure(
    setup: Setup, target: str, mode: str, rnd: int, connections: int, duration_s: int
) -> Run:
    procs = (setup.upstream, setup.passthrough, setup.steward)
    for svc in procs:
        svc.check_alive()
    server = {"upstream": setup.upstream, "passthrough": setup.passthrough}.get(
        target, setup.steward
    )
    waited = wait_quiet(setup) if mode != "warmup" else 0.0
    cpu0 = [process_cpu_s(svc.pid) for svc in procs]
    busy0, own0, t0 = busy_cpu_s(), own_cpu_s(), time.monotonic()
    run = setup.lg.run(
        target, mode, rnd, setup.urls[target] + CHAT_PATH, connections, duration_s, setup.key
    )
    elapsed = max(1e-6, time.monotonic() - t0)
    cpu1 = [process_cpu_s(svc.pid) for svc in procs]
    ours = sum(b - a for a, b in zip(cpu0, cpu1, strict=True)) + own_cpu_s() - own0
    run.background_cpus = round(max(0.0, busy_cpu_s() - busy0 - ours) / elapsed, 3)
    server_cpu = cpu1[procs.index(server)] - cpu0[procs.index(server)]
    run.server_cpu_s = round(server_cpu, 2)
    run.server_cpu_us_per_request = round(1e6 * server_cpu / max(1, run.requests), 1)
    run.quiet_wait_s = waited
    setup.runs.append(run)
    errs = f", errors {run.errors}" if run.error_total else ""
    log(
        f"{mode:<10} r{rnd} {NAMES[target]:<18} c={connections:<3} {run.rps:>9.1f} req/s  "
        f"p50 {run.p50_ms:.3f} ms  p99 {run.p99_ms:.3f} ms  "
        f"server CPU {run.server_cpu_us_per_request:.0f} us/req  "
        f"background {run.background_cpus:.2f} CPU"
        + (f" (waited {run.quiet_wait_s:g} s for quiet)" if run.quiet_wait_s >= 1.5 else "")
        + errs
    )
    if target == "steward":
        wait_spool_shipped(setup.steward, setup.urls["steward"])
    time.sleep(0.5)  # let sockets and the other processes settle
    return run


def procedure(setup: Setup, args: argparse.Namespace) -> None:
    c, d = args.connections, args.duration
    for target in ("upstream", "passthrough", "steward"):
        measure(setup, target, "warmup", 0, c, args.warmup)
    measure(setup, "upstream", "capacity", 0, c, d)
    for rnd in range(1, args.rounds + 1):
        order = ["passthrough", "steward"] if rnd % 2 else ["steward", "passthrough"]
        for target in order:
            measure(setup, target, "throughput", rnd, c, d)
        time.sleep(POOL_SETTLE_S)  # idle pooled connections of the throughput runs expire
        lat_order = ["upstream", *order]
        for target in lat_order if rnd % 2 else list(reversed(lat_order)):
            measure(setup, target, "latency", rnd, 1, d)


# -- results -----------------------------------------------------------------------------------


def _runs(runs: list[Run], target: str, mode: str) -> dict[int, Run]:
    return {r.round: r for r in runs if r.target == target and r.mode == mode}


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def summarise(runs: list[Run], rounds: int) -> dict[str, Any]:
    tp = {t: _runs(runs, t, "throughput") for t in ("passthrough", "steward")}
    lat = {t: _runs(runs, t, "latency") for t in ("upstream", "passthrough", "steward")}
    per_round = []
    for rnd in range(1, rounds + 1):
        pt, st = tp["passthrough"][rnd], tp["steward"][rnd]
        lu, lp, ls = lat["upstream"][rnd], lat["passthrough"][rnd], lat["steward"][rnd]
        per_round.append(
            {
                "round": rnd,
                "rps": {"passthrough": pt.rps, "steward": st.rps},
                "cpu_us_per_request": {
                    "passthrough": pt.server_cpu_us_per_request,
                    "steward": st.server_cpu_us_per_request,
                },
                "cpu_us_per_request_1c": {
                    "passthrough": lp.server_cpu_us_per_request,
                    "steward": ls.server_cpu_us_per_request,
                },
                "added_cpu_us": round(
                    st.server_cpu_us_per_request - pt.server_cpu_us_per_request, 1
                ),
                "added_cpu_us_1c": round(
                    ls.server_cpu_us_per_request - lp.server_cpu_us_per_request, 1
                ),
                "ratio": round(st.rps / pt.rps, 4) if pt.rps else 0.0,
                "p50_ms": {"upstream": lu.p50_ms, "passthrough": lp.p50_ms, "steward": ls.p50_ms},
                "p99_ms": {"upstream": lu.p99_ms, "passthrough": lp.p99_ms, "steward": ls.p99_ms},
                "added_p50_ms": round(ls.p50_ms - lp.p50_ms, 4),
                "added_p99_ms": round(ls.p99_ms - lp.p99_ms, 4),
                "passthrough_over_upstream_p50_ms": round(lp.p50_ms - lu.p50_ms, 4),
                "steward_over_upstream_p50_ms": round(ls.p50_ms - lu.p50_ms, 4),
            }
        )

    def med(*keys: str) -> float | None:
        values = []
        for row in per_round:
            value: Any = row
            for k in keys:
                value = value[k]
            values.append(float(value))
        return _median(values)

    capacity = [r.rps for r in runs if r.mode == "capacity"]
    measured = [r for r in runs if r.mode in ("capacity", "throughput", "latency")]
    background = [r.background_cpus for r in measured]
    return {
        "per_round": per_round,
        "medians": {
            "rps": {
                "upstream_capacity": capacity[0] if capacity else None,
                "passthrough": med("rps", "passthrough"),
                "steward": med("rps", "steward"),
            },
            "ratio": med("ratio"),
            "cpu_us_per_request": {
                t: med("cpu_us_per_request", t) for t in ("passthrough", "steward")
            },
            "cpu_us_per_request_1c": {
                t: med("cpu_us_per_request_1c", t) for t in ("passthrough", "steward")
            },
            "added_cpu_us": med("added_cpu_us"),
            "added_cpu_us_1c": med("added_cpu_us_1c"),
            "p50_ms": {t: med("p50_ms", t) for t in ("upstream", "passthrough", "steward")},
            "p99_ms": {t: med("p99_ms", t) for t in ("upstream", "passthrough", "steward")},
            "added_p50_ms": med("added_p50_ms"),
            "added_p99_ms": med("added_p99_ms"),
            "passthrough_over_upstream_p50_ms": med("passthrough_over_upstream_p50_ms"),
            "steward_over_upstream_p50_ms": med("steward_over_upstream_p50_ms"),
        },
        "background_cpus": {
            "median": _median(background),
            "max": max(background) if background else None,
            "note": "CPU used during measured runs by processes outside the benchmark "
            "(1.0 = one core), from /proc/stat minus the benchmark's own processes",
        },
    }


def integrity(runs: list[Run], events: dict[int, int] | None, checks: int) -> dict[str, Any]:
    errors = {
        t: {k: sum(r.errors[k] for r in runs if r.target == t) for k in ERROR_KINDS}
        for t in ("upstream", "passthrough", "steward")
    }
    st_runs = [r for r in runs if r.target == "steward"]
    completed = sum(r.requests for r in st_runs) + checks
    in_flight_bound = sum(r.connections for r in st_runs)
    recorded = sum(events.values()) if events is not None else None
    ok_events = events.get(200, 0) if events is not None else None
    non_200 = (recorded - ok_events) if recorded is not None and ok_events is not None else None
    complete = (
        recorded is not None
        and non_200 == 0
        and completed <= recorded <= completed + in_flight_bound
    )
    return {
        "load_generator_errors": errors,
        "non_2xx": {t: errors[t]["status"] for t in errors},
        "steward_requests_completed": completed,
        "steward_usage_events": recorded,
        "steward_usage_events_by_status": events,
        "in_flight_allowance": in_flight_bound,
        "events_complete": complete,
        "note": "completed = responses the load generator counted (plus setup checks); requests "
        "still in flight when a run stops are answered and recorded by Steward but not "
        "counted by wrk, so recorded may exceed completed by at most the connections per run",
    }


def targets(summary: dict[str, Any], rss: dict[str, float | None]) -> list[dict[str, Any]]:
    m = summary["medians"]
    ratio, added, st_rss = m["ratio"], m["added_p50_ms"], rss.get("steward")
    return [
        {
            "name": "throughput ratio Steward / pass-through",
            "value": ratio,
            "target": f">= {TARGET_RATIO}",
            "ok": ratio is not None and ratio >= TARGET_RATIO,
        },
        {
            "name": "added p50 latency over pass-through (ms)",
            "value": added,
            "target": f"<= {TARGET_ADDED_P50_MS}",
            "ok": added is not None and added <= TARGET_ADDED_P50_MS,
        },
        {
            "name": "Steward peak RSS (MB)",
            "value": st_rss,
            "target": f"<= {TARGET_RSS_MB:g}",
            "ok": st_rss is not None and st_rss <= TARGET_RSS_MB,
        },
    ]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _signed(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:+,.{digits}f}"


def table(result: dict[str, Any]) -> str:
    m = result["summary"]["medians"]
    rss = result["peak_rss_mb"]
    integ = result["integrity"]
    tg = {t["name"]: t for t in result["targets"]}
    mark = {True: "PASS", False: "MISS"}
    s = result["settings"]
    cpu, cpu1 = m["cpu_us_per_request"], m["cpu_us_per_request_1c"]
    bg = result["summary"]["background_cpus"]
    rows: list[tuple[str, ...]] = [
        ("", "upstream", "pass-through", "Steward", "Steward vs p-t", "target", "result"),
        (
            f"throughput @{s['connections']}c (req/s)",
            _fmt(m["rps"]["upstream_capacity"]),
            _fmt(m["rps"]["passthrough"]),
            _fmt(m["rps"]["steward"]),
            f"ratio {_fmt(m['ratio'], 2)}",
            f">= {TARGET_RATIO}",
            mark[tg["throughput ratio Steward / pass-through"]["ok"]],
        ),
        (
            f"server CPU @{s['connections']}c (us/req)",
            "",
            _fmt(cpu["passthrough"], 0),
            _fmt(cpu["steward"], 0),
            _signed(m["added_cpu_us"], 0),
            "-",
            "-",
        ),
        (
            "server CPU @1c (us/req)",
            "",
            _fmt(cpu1["passthrough"], 0),
            _fmt(cpu1["steward"], 0),
            _signed(m["added_cpu_us_1c"], 0),
            "-",
            "-",
        ),
        (
            "latency p50 @1c (ms)",
            _fmt(m["p50_ms"]["upstream"], 3),
            _fmt(m["p50_ms"]["passthrough"], 3),
            _fmt(m["p50_ms"]["steward"], 3),
            _signed(m["added_p50_ms"], 3),
            f"<= {TARGET_ADDED_P50_MS}",
            mark[tg["added p50 latency over pass-through (ms)"]["ok"]],
        ),
        (
            "latency p99 @1c (ms)",
            _fmt(m["p99_ms"]["upstream"], 3),
            _fmt(m["p99_ms"]["passthrough"], 3),
            _fmt(m["p99_ms"]["steward"], 3),
            _signed(m["added_p99_ms"], 3),
            "-",
            "-",
        ),
        (
            "peak RSS (MB)",
            _fmt(rss.get("upstream")),
            _fmt(rss.get("passthrough")),
            _fmt(rss.get("steward")),
            "",
            f"<= {TARGET_RSS_MB:g}",
            mark[tg["Steward peak RSS (MB)"]["ok"]],
        ),
        (
            "non-2xx (all runs)",
            str(integ["non_2xx"]["upstream"]),
            str(integ["non_2xx"]["passthrough"]),
            str(integ["non_2xx"]["steward"]),
            "",
            "0",
            mark[all(v == 0 for v in integ["non_2xx"].values())],
        ),
        (
            "socket errors (all runs)",
            *(
                str(sum(v for k, v in integ["load_generator_errors"][t].items() if k != "status"))
                for t in ("upstream", "passthrough", "steward")
            ),
            "",
            "0",
            mark[result["errors_free"]],
        ),
        (
            "usage events recorded",
            "",
            "",
            str(integ["steward_usage_events"]),
            f"{integ['steward_requests_completed']} completed",
            "all",
            mark[bool(integ["events_complete"])],
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        rest = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in rest]
        lines.append("  ".join(cells))
        if i == 0:
            lines.append("-" * len(lines[0]))
    lg = result["load_generator"]
    head = (
        f"Steward gateway benchmark: medians of {s['rounds']} rounds; throughput "
        f"{s['connections']} connections x {s['duration_s']} s, latency 1 connection x "
        f"{s['duration_s']} s\n"
        f"load: {lg['version']}; {result['pinning']}\n"
        f"Steward {result['steward_revision']}, spool.sync={result['steward_spool_sync']}; "
        f"upstream pool max_connections="
        f"{result['upstream_pool_max_connections']} (Steward and pass-through); upstream column: "
        f"direct to the fake upstream (throughput measured once)\n"
        f"p-t overhead over upstream p50 {_fmt(m['passthrough_over_upstream_p50_ms'], 3)} ms, "
        f"Steward over upstream p50 {_fmt(m['steward_over_upstream_p50_ms'], 3)} ms\n"
        f"background load (other processes) during measured runs: median "
        f"{_fmt(bg['median'], 2)}, max {_fmt(bg['max'], 2)} CPU"
    )
    if (bg["max"] or 0) > NOISY_CPUS:
        head += "  << NOISY: other processes competed for the CPUs; figures are less reliable"
    return head + "\n\n" + "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    p.add_argument(
        "--connections", type=int, default=32, help="connections for throughput runs (default 32)"
    )
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds per target (default 3)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument(
        "--steward-config-override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a key of bench/steward.yaml, e.g. spool.sync=write (repeatable)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=10.0,
        help="before each measured run, wait up to this many seconds for other processes' "
        f"CPU use to drop below {QUIET_CPUS} CPU (default 10; 0: do not wait)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    p.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="auto: wrk, installed with apt-get if missing, else the Python one",
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, py-spy Steward during one more throughput run",
    )
    p.add_argument(
        "--budgets",
        action="store_true",
        help="create budgets on the key, user, team and organisation (never exhausted); with "
        "--steward-config-override 'rate_limits=[...]' measures the limit stage's cost",
    )
    p.add_argument(
        "--eval-sampling",
        type=float,
        default=None,
        metavar="RATE",
        help="sample this share of requests for evaluation (evaluation.sampling.default_rate; "
        "compare with a run without it: the target is within 5%%)",
    )
    p.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    p.add_argument(
        "--output",
        type=Path,
        default=RESULTS / "latest.json",
        help="where to write the JSON results (default bench/results/latest.json)",
    )
    args = p.parse_args(argv)
    if not 1 <= args.rounds <= 50:
        p.error("--rounds must be 1..50")
    if not 1 <= args.duration <= 600 or not 1 <= args.warmup <= 600:
        p.error("--duration and --warmup must be 1..600 seconds")
    if not 1 <= args.connections <= 1000:
        p.error("--connections must be 1..1000")
    if not 0 <= args.quiet_wait <= 600:
        p.error("--quiet-wait must be 0..600 seconds")
    if args.eval_sampling is not None:
        if not 0 <= args.eval_sampling <= 1:
            p.error("--eval-sampling must be 0..1")
        args.steward_config_override.append(
            f"evaluation.sampling.default_rate={args.eval_sampling}"
        )
    return args


@contextlib.contextmanager
def services(*items: Service) -> Iterator[None]:
    try:
        yield
    finally:
        for svc in reversed(items):
            with contextlib.suppress(Exception):
                svc.stop()


def execute(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], int]:
    proxy_cpus, lg_cpus, pin_note = cpu_plan(args.no_pin)
    if lg_cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in lg_cpus.split(",")})
    kind, lg_note = choose_load_generator(args.load_generator)
    body_file = work / "body.json"
    body_file.write_bytes(chat_body())
    threads = len(lg_cpus.split(",")) if lg_cpus else max(1, (os.cpu_count() or 2) // 2)
    lg = LoadGenerator(kind, lg_cpus, threads, body_file)
    log(f"work dir {work}; {pin_note}; load generator: {lg.version}")

    upstream, passthrough, steward, admin_key, info = start_services(
        args, work, proxy_cpus, lg_cpus
    )
    rss: dict[str, float | None] = {}
    events: dict[int, int] | None = None
    profile: dict[str, Any] | None = None
    with services(upstream, passthrough, steward):
        setup = Setup(
            work=work,
            lg=lg,
            upstream=upstream,
            passthrough=passthrough,
            steward=steward,
            urls={n: f"http://{HOST}:{p}" for n, p in info["ports"].items()},
            key="",
            steward_db=Path(info["data_dir"]) / "steward.db",
            config=info["config"],
            quiet_wait_s=args.quiet_wait,
        )
        prepare(setup, admin_key)
        if args.budgets:
            provision_budgets(setup.urls["steward"], admin_key, setup.key)
        log(
            f"all up: pids upstream {upstream.pid}, pass-through {passthrough.pid}, "
            f"Steward {steward.pid}"
        )
        procedure(setup, args)
        for name, svc in (
            ("upstream", upstream),
            ("passthrough", passthrough),
            ("steward", steward),
        ):
            kb = svc.status_kb("VmHWM")
            rss[name] = round(kb / 1024, 1) if kb is not None else None
        if args.profile:
            RESULTS.mkdir(parents=True, exist_ok=True)
            profile = profile_steward(
                steward,
                lg,
                setup.urls["steward"] + CHAT_PATH,
                setup.key,
                args.connections,
                args.duration,
                lg_cpus,
                RESULTS / "steward-profile.txt",
            )
            wait_spool_shipped(steward, setup.urls["steward"])
            if "run" in profile:
                setup.runs.append(Run(**profile["run"]))
        steward.stop()  # graceful: the shipper drains the spool into SQLite
        events = count_usage_events(setup.steward_db)

    summary = summarise(setup.runs, args.rounds)
    integ = integrity(setup.runs, events, checks=1)
    measured = [r for r in setup.runs if r.mode in ("capacity", "throughput", "latency")]
    errors_free = all(r.error_total == 0 for r in measured)
    result: dict[str, Any] = {
        "benchmark": "steward-gateway",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "body_bytes": len(chat_body()),
            "quiet_wait_s": args.quiet_wait,
            "overrides": args.steward_config_override,
            "budgets": args.budgets,
        },
        "machine": machine_info(work),
        "steward_revision": steward_revision(),
        "pinning": pin_note,
        "load_generator": {"kind": kind, "version": lg.version, "note": lg_note},
        "steward_spool_sync": info["config"].get("spool", {}).get("sync", "fsync"),
        "upstream_pool_max_connections": info["pool_max_connections"],
        "steward_config": info["config"],
        "summary": summary,
        "peak_rss_mb": rss,
        "integrity": integ,
        "errors_free": errors_free,
        "runs": [asdict(r) for r in setup.runs],
    }
    result["targets"] = targets(summary, rss)
    if profile is not None:
        result["profile"] = profile
    code = 0
    if not errors_free or not integ["events_complete"]:
        code = 1
    elif args.strict and not all(t["ok"] for t in result["targets"]):
        code = 3
    return result, code


def print_profile(profile: dict[str, Any]) -> None:
    if "top_own" not in profile:
        return
    print(f"\nSteward profile (py-spy, {profile['samples']} samples; {profile['file']})")
    threads = ", ".join(f"{t['thread']} {t['percent']:.0f}%" for t in profile["threads"][:5])
    print(f"threads: {threads}")
    packages = ", ".join(
        f"{p['package']} {p['percent']:.0f}%" for p in profile["top_own_by_package"][:10]
    )
    print(f"own time by package: {packages}")
    print("top functions by own time (all threads):")
    for row in profile["top_own"][:15]:
        print(f"  {row['percent']:5.1f}%  {row['function']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    try:
        result, code = execute(args, work)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        print(f"(work directory kept: {work})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if not args.keep and code == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        result["work_dir"] = str(work)
        log(f"work directory kept: {work}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print()
        print(table(result))
        if "profile" in result:
            print_profile(result["profile"])
        print(f"\nresults written to {args.output}")
    if code == 1:
        print("benchmark INVALID: errors or missing usage events (see above)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
