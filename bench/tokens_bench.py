"""Bearer resolution benchmark: what authenticating one request costs with an API key, with a
delegation token already verified (the cache), and with a token verified from scratch (an
Ed25519 signature check), plus one full token exchange (checks and signing).

    .venv/bin/python bench/tokens_bench.py              # ~10 s
    .venv/bin/python bench/tokens_bench.py --calls 50000

Cases (timed per call with perf_counter_ns after a warm-up; medians and p99 reported):
  api_key            resolve_bearer on an API key (a SHA-256 and a dict lookup)
  token.cached       BearerResolver.resolve on a token it has verified (same snapshot)
  token.new_snapshot the same after a snapshot change (the principal is rebuilt from live state)
  token.verify       a resolver with no cache: decode, Ed25519 verify, claims, principal
  exchange           decide() + sign (the work of POST /v1/agents/token, minus HTTP)
A benchmark, not a test: it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from steward.identity import IdentityService
from steward.identity.credentials import BearerResolver, resolve_bearer
from steward.identity.snapshot import Snapshot, load_snapshot
from steward.identity.tokens_exchange import ACCESS_TOKEN, GRANT_TYPE, decide, parse_request
from steward.identity.tokens_issuer import TokenIssuer
from steward.identity.tokens_keys import SECTION
from steward.identity.tokens_settings import AgentTokenSettings
from steward.store.db import make_engine, session_factory, upgrade


def _time(fn: Callable[[], object], calls: int) -> dict[str, float]:
    for _ in range(min(1000, calls)):
        fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return {
        "p50_us": statistics.median(samples) / 1000,
        "p99_us": samples[int(len(samples) * 0.99) - 1] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    settings = AgentTokenSettings()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        svc = IdentityService(sessions)
        svc.create_user("alice")
        svc.create_user("olga")
        svc.create_agent("bot", owner="olga")
        user_key = svc.create_key(user="alice")[1]
        agent_key = svc.create_key(agent="bot")[1]
        with sessions() as s:
            snap = load_snapshot(s)
        params = {"grant_type": GRANT_TYPE, "subject_token": user_key,
                  "subject_token_type": ACCESS_TOKEN, "actor_token": agent_key,
                  "actor_token_type": ACCESS_TOKEN}  # fmt: skip
        issuer = TokenIssuer(settings, sessions)
        resolver = BearerResolver(settings)

        def exchange() -> str:
            grant = decide(snap, parse_request(params, settings), settings, resolver)
            return asyncio.run(issuer.sign(snap.section(SECTION), grant))

        token = exchange()
        with sessions() as s:
            snap = load_snapshot(s)  # now with the signing key
        resolver.resolve(snap, token)
        uncached = BearerResolver(AgentTokenSettings(token_cache_size=0))
        versions = iter(range(10**9))

        def new_snapshot() -> object:
            fresh = Snapshot(next(versions), snap.keys, snap.names, sections=snap.sections)
            return resolver.resolve(fresh, token)

        results = {
            "api_key": _time(lambda: resolve_bearer(snap, user_key), args.calls),
            "token.cached": _time(lambda: resolver.resolve(snap, token), args.calls),
            "token.new_snapshot": _time(new_snapshot, args.calls),
            "token.verify": _time(lambda: uncached.resolve(snap, token), args.calls // 4),
            "exchange": _time(exchange, max(200, args.calls // 50)),
        }
        engine.dispose()
    for name, r in results.items():
        print(f"{name:20s} p50 {r['p50_us']:9.1f} us   p99 {r['p99_us']:9.1f} us")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
