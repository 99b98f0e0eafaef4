"""The guard's long-lived parts in a gateway process: the compiled scanner (rebuilt when
registered documents change), profile resolution per request, and the key for keyed hashes."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from steward.guard.actions import Keyed
from steward.guard.profiles import DEFAULT_PROFILE, GuardProfile, ProfileSet
from steward.guard.settings import GuardSettings
from steward.guard.stream import TermHold

if TYPE_CHECKING:
    from steward.gateway.context import RequestContext
    from steward.guard import Scanner
    from steward.identity.snapshot import Snapshot

log = logging.getLogger("steward.guard")


def load_hash_key(settings: GuardSettings, data_dir: Path) -> bytes:
    """The configured key, or a random one kept (0600) in the data directory."""
    if settings.hash_key:
        return settings.hash_key.encode()
    path = data_dir / "guard-key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def build_scanner(settings: GuardSettings, snapshot: Snapshot | None) -> Scanner:
    from steward.guard import FingerprintIndex, Scanner

    index = FingerprintIndex()
    if snapshot is not None:
        for doc_id, (name, hashes) in snapshot.documents.items():
            index.add(doc_id, set(hashes), name=name)
    detectors = settings.detectors
    if not detectors.injection_classifier:
        return Scanner(detectors, fingerprints=index)
    # optional extra: imported only when enabled; one model per process, shared by rebuilds
    from steward.guard.classifier import injection_classifier

    classifier = injection_classifier(
        detectors.injection_classifier_threshold, detectors.injection_classifier_model_dir
    )
    return Scanner(detectors, fingerprints=index, classifier=classifier)


class GuardRuntime:
    def __init__(self, settings: GuardSettings, data_dir: Path) -> None:
        self.settings = settings
        self.keyed = Keyed(load_hash_key(settings, data_dir))
        self.scanner = build_scanner(settings, None)
        self._doc_version: tuple[str, ...] = ()
        self._names: dict[str, str] = {}
        self._app_overrides: dict[str, str] = {}
        self._cache: dict[tuple[str | None, ...], ProfileSet] = {}
        by_kind: dict[str, dict[str, list[str]]] = {
            k: {} for k in ("app", "team", "agent", "model", "provider")
        }
        for a in settings.attach:
            for kind in by_kind:
                target = getattr(a, kind)
                if target:
                    by_kind[kind].setdefault(target, []).append(a.profile)
        self._attached = by_kind
        self.stream_hold = TermHold(settings.detectors.terms)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Refresh names (attachments are by name) and rebuild the scanner if documents changed."""
        self._names = dict(snapshot.names)
        # remediation (docs/remediation.md): app id -> a stricter profile, on top of the rest
        self._app_overrides = dict(snapshot.section("guard_overrides"))
        self._cache.clear()
        docs = tuple(sorted(snapshot.documents))
        if docs != self._doc_version:
            try:
                self.scanner = build_scanner(self.settings, snapshot)
                self._doc_version = docs
            except Exception:
                log.exception("could not rebuild the guard scanner; keeping the previous one")

    def _profile(self, name: str) -> tuple[str, GuardProfile]:
        return name, self.settings.profiles.get(name, DEFAULT_PROFILE)

    def profiles_for(self, ctx: RequestContext) -> ProfileSet:
        """Every profile that applies: default, each possible deployment's provider and model,
        the team's, the app's and the agent's. Cached per combination."""
        p = ctx.principal
        providers = tuple(sorted({d.provider_name for d in ctx.route}))
        key = (
            p.team_id if p else None,
            p.app_id if p else None,
            p.agent_id if p else None,
            ctx.model_alias,
            *providers,
        )
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        names = ["default"]
        att = self._attached
        for prov in providers:
            names += att["provider"].get(prov, [])
        names += att["model"].get(ctx.model_alias or "", [])
        if p is not None:
            for kind, pid in (("team", p.team_id), ("app", p.app_id), ("agent", p.agent_id)):
                if pid:
                    names += att[kind].get(self._names.get(pid, ""), [])
            if p.app_id and p.app_id in self._app_overrides:
                names.append(self._app_overrides[p.app_id])
        seen: list[str] = []
        for n in names:
            if n not in seen:
                seen.append(n)
        result = ProfileSet([self._profile(n) for n in seen])
        self._cache[key] = result
        return result
