"""The guard's service layer for its front ends (admin API and CLI): registered confidential
documents, and dry runs of the detectors and a profile on a text.

A document is stored as its winnowed fingerprints (64-bit hashes, see `fingerprints.py`), its
word count and the SHA-256 of its text; the text itself is never stored. Every change writes its
audit event and bumps the state version in one transaction, so each gateway process rebuilds its
scanner within `server.state_poll_ms`.
"""

from __future__ import annotations

import builtins
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import short_id
from steward.guard.actions import Hit, Keyed, Pseudonyms, apply
from steward.guard.config import DetectorConfig
from steward.guard.fingerprints import _WORD, FingerprintIndex, fingerprint
from steward.guard.profiles import RANK, Direction, ProfileSet
from steward.guard.scanner import Scanner
from steward.guard.settings import GuardSettings
from steward.identity._base import ServiceBase, must_utc, utcnow
from steward.identity._validate import clean_name
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.identity.records import SYSTEM_ACTOR, Actor
from steward.store.models import GuardDocument

# Larger texts are refused: a document is fingerprinted in memory, and ~0.4 hashes per word are
# kept in the snapshot of every gateway process.
MAX_DOCUMENT_CHARS = 10_000_000
DIRECTIONS: tuple[str, ...] = ("input", "output")
DEFAULT_MIN_WORDS: int = DetectorConfig.model_fields["fingerprint_min_words"].default


@dataclass(frozen=True)
class DocumentInfo:
    """A registered document as listed: its size and digest, never its text or its hashes."""

    id: str
    name: str
    words: int
    fingerprints: int
    sha256: str
    created_at: datetime
    created_by: str


def _info(row: GuardDocument) -> DocumentInfo:
    return DocumentInfo(
        id=row.id,
        name=row.name,
        words=row.words,
        fingerprints=len(row.fingerprints),
        sha256=row.sha256,
        created_at=must_utc(row.created_at),
        created_by=row.created_by,
    )


def _find(session: Session, ref: str) -> GuardDocument:
    row = session.get(GuardDocument, ref)
    if row is None:
        row = session.scalar(select(GuardDocument).where(GuardDocument.name == ref))
    if row is None:
        raise NotFound(
            f"guard document '{ref}' does not exist; check the name or id "
            "(list guard documents to see them)",
            code="document_not_found",
        )
    return row


class GuardDocuments(ServiceBase):
    """Register, list and remove confidential documents (fingerprints only).

    `min_words` is the shortest document accepted: the scanner reports a leak only for passages
    of at least `guard.detectors.fingerprint_min_words` words, so a shorter document could
    never be detected. Pass the configured value."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        engine: Engine | None = None,
        min_words: int = DEFAULT_MIN_WORDS,
    ) -> None:
        super().__init__(session_factory, engine=engine)
        self.min_words = min_words

    def __enter__(self) -> GuardDocuments:
        return self

    def add(self, name: str, text: str, *, actor: Actor = SYSTEM_ACTOR) -> DocumentInfo:
        """Fingerprint `text` and register it under a unique `name`; the text is not kept."""
        name = clean_name("document", name)
        if len(text) > MAX_DOCUMENT_CHARS:
            raise Invalid(
                f"the document is {len(text)} characters long; register documents of at most "
                f"{MAX_DOCUMENT_CHARS} characters (split a larger one into parts)",
                code="document_too_large",
            )
        words = sum(1 for _ in _WORD.finditer(text))
        if words == 0:
            raise Invalid(
                "the document has no text; send the document's text (extract it from a PDF or "
                "office file first)",
                code="document_empty",
            )
        if words < self.min_words:
            raise Invalid(
                f"the document has {words} words; a leak is reported only for passages of at "
                f"least {self.min_words} words (guard.detectors.fingerprint_min_words), so a "
                "shorter document could never be detected: register a longer one, or add its "
                "distinctive phrases to a term list (guard.detectors.terms) instead",
                code="document_too_short",
            )
        hashes = sorted(fingerprint(text))
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        with self._write() as s:
            if s.scalar(select(GuardDocument.id).where(GuardDocument.name == name)) is not None:
                raise Conflict(
                    f"a guard document named '{name}' already exists; choose another name, or "
                    "remove the old one first to replace it",
                    code="document_exists",
                )
            same = s.scalar(select(GuardDocument.name).where(GuardDocument.sha256 == digest))
            if same is not None:
                raise Conflict(
                    f"this text is already registered as guard document '{same}'",
                    code="document_duplicate",
                )
            row = GuardDocument(
                id=short_id("doc"),
                name=name,
                fingerprints=hashes,
                words=words,
                sha256=digest,
                created_at=utcnow(),
                created_by=actor.label(),
            )
            s.add(row)
            s.flush()
            self._changed(
                s,
                actor,
                "guard.document.add",
                "guard_document",
                row.id,
                details={"name": name, "words": words, "fingerprints": len(hashes)},
            )
            return _info(row)

    def list(self) -> builtins.list[DocumentInfo]:
        """Every registered document, by name (sizes and digests, never hashes)."""
        with self._read() as s:
            rows = s.scalars(select(GuardDocument).order_by(GuardDocument.name))
            return [_info(r) for r in rows]

    def get(self, name_or_id: str) -> DocumentInfo:
        with self._read() as s:
            return _info(_find(s, name_or_id))

    def remove(self, name_or_id: str, *, actor: Actor = SYSTEM_ACTOR) -> DocumentInfo:
        """Forget a document: its passages are no longer detected once processes reload."""
        with self._write() as s:
            row = _find(s, name_or_id)
            info = _info(row)
            s.delete(row)
            self._changed(
                s,
                actor,
                "guard.document.remove",
                "guard_document",
                row.id,
                details={"name": row.name},
            )
            return info

    def fingerprint_index(self) -> FingerprintIndex:
        """An index of every registered document, as the gateway's scanner holds it."""
        index = FingerprintIndex()
        with self._read() as s:
            for row in s.scalars(select(GuardDocument)):
                index.add(row.id, row.fingerprints, name=row.name)
        return index


# -- dry runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewFinding:
    """One finding of a dry run and the action the profiles decide for it."""

    entity: str
    data_class: str
    detector: str
    start: int
    end: int
    score: float
    label: str | None
    action: str
    profile: str


@dataclass(frozen=True)
class Preview:
    """What the guard would do with a text: the findings and the text a model would see.

    `outcome` is `allowed` (unchanged), `modified` (redacted, masked, hashed or pseudonymized),
    `approval_required` or `blocked` (the gateway would refuse the request or answer)."""

    direction: str
    profiles: list[str]
    outcome: str
    findings: list[PreviewFinding]
    text: str


def profile_set(settings: GuardSettings, profile: str | None) -> ProfileSet:
    """The profiles a request with `profile` attached gets: `default` and `profile`."""
    names = ["default"]
    if profile is not None and profile != "default":
        if profile not in settings.profiles:
            known = ", ".join(sorted({"default", *settings.profiles}))
            raise Invalid(
                f"guard profile '{profile}' is not defined; defined profiles: {known}",
                code="unknown_profile",
            )
        names.append(profile)
    return ProfileSet([(n, settings.profile(n)) for n in names])


def preview(
    settings: GuardSettings,
    scanner: Scanner,
    keyed: Keyed,
    text: str,
    *,
    profile: str | None = None,
    direction: str = "input",
) -> Preview:
    """Scan `text` and apply the actions of `default` plus `profile` (strictest wins), as the
    gateway would for a request (`input`) or an answer (`output`) with that profile attached.
    Pseudonymized values show as their placeholders (`<EMAIL_ADDRESS_1>`)."""
    if direction not in DIRECTIONS:
        raise Invalid(
            f"direction '{direction}' is not one of input, output; choose one of those",
            code="invalid_direction",
        )
    side: Direction = "input" if direction == "input" else "output"
    profiles = profile_set(settings, profile)
    hits = []
    for f in scanner.scan(text):
        decision = profiles.decide(side, f.entity, f.data_class, f.score)
        hits.append(
            Hit(f.entity, f.data_class, f.detector, f.start, f.end, f.score, f.label, decision)
        )
    result = apply(text, hits, keyed, Pseudonyms())
    worst = max((h.decision.action for h in hits), key=RANK.__getitem__, default="allow")
    if worst in ("block", "require_approval"):
        outcome = "blocked" if worst == "block" else "approval_required"
    else:
        outcome = "modified" if result != text else "allowed"
    findings = [
        PreviewFinding(
            h.entity,
            h.data_class,
            h.detector,
            h.start,
            h.end,
            round(h.score, 4),
            h.label,
            h.decision.action,
            h.decision.profile,
        )
        for h in hits
    ]
    return Preview(direction, list(profiles.names), outcome, findings, result)


__all__ = [
    "MAX_DOCUMENT_CHARS",
    "DocumentInfo",
    "GuardDocuments",
    "Preview",
    "PreviewFinding",
    "preview",
    "profile_set",
]
