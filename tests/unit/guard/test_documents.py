"""The guard's front-end services: registered documents (fingerprints only, audited, versioned)
and dry runs of the detectors and profiles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from steward.guard import DetectorConfig, Scanner
from steward.guard.actions import Keyed
from steward.guard.documents import GuardDocuments, preview
from steward.guard.runtime import GuardRuntime
from steward.guard.settings import GuardSettings
from steward.identity import Actor, Conflict, Invalid, NotFound, current_version
from steward.identity.snapshot import load_snapshot
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import AuditEvent, GuardDocument

SECRET_SENTENCE = "Quetzalcoatl replaces the checkout service in three waves starting in March"
PLAN = (
    f"{SECRET_SENTENCE}, after the payment provider finishes its load tests and the fraud team "
    "signs off on the new risk rules. The second wave moves North America in April, once the "
    "tax engine integration is certified in every state where we collect sales tax. The third "
    "wave retires the legacy service in June; until then both paths stay live behind a feature "
    "flag so that any region can be rolled back within ten minutes."
)
ACTOR = Actor("cli", "tester")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def docs(engine: Engine) -> GuardDocuments:
    return GuardDocuments(session_factory(engine))


def _version(engine: Engine) -> int:
    with Session(engine) as s:
        return current_version(s)


def _audit(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# -- registration ----------------------------------------------------------------------------


def test_add_list_get_remove(docs: GuardDocuments, engine: Engine) -> None:
    before = _version(engine)
    info = docs.add("bluebird", PLAN, actor=ACTOR)
    assert info.name == "bluebird" and info.id.startswith("doc_")
    assert info.words == len(PLAN.replace(";", " ").replace(",", " ").split())
    assert info.fingerprints > 10
    assert info.created_by == "cli:tester" and len(info.sha256) == 64
    assert _version(engine) == before + 1

    assert docs.list() == [info]
    assert docs.get("bluebird") == info == docs.get(info.id)

    removed = docs.remove("bluebird", actor=ACTOR)
    assert removed == info
    assert docs.list() == []
    assert _version(engine) == before + 2
    with pytest.raises(NotFound, match="guard document 'bluebird' does not exist"):
        docs.get("bluebird")
    with pytest.raises(NotFound):
        docs.remove(info.id, actor=ACTOR)


def test_hashes_are_stored_sorted_with_digest(docs: GuardDocuments, engine: Engine) -> None:
    info = docs.add("plan", PLAN)
    with Session(engine) as s:
        row = s.get(GuardDocument, info.id)
        assert row is not None
        assert row.fingerprints == sorted(row.fingerprints)
        assert len(row.fingerprints) == info.fingerprints
        assert all(isinstance(h, int) and 0 <= h < 2**64 for h in row.fingerprints)


def test_changes_are_audited(docs: GuardDocuments, engine: Engine) -> None:
    info = docs.add("plan", PLAN, actor=ACTOR)
    docs.remove("plan", actor=ACTOR)
    rows = [(a.action, a.target_type, a.target_id, a.actor_id, a.outcome) for a in _audit(engine)]
    assert rows == [
        ("guard.document.add", "guard_document", info.id, "tester", "succeeded"),
        ("guard.document.remove", "guard_document", info.id, "tester", "succeeded"),
    ]
    details = _audit(engine)[0].details or {}
    assert details["name"] == "plan" and details["words"] == info.words
    assert SECRET_SENTENCE not in str(details)


def test_duplicate_name_or_text_is_a_conflict(docs: GuardDocuments, engine: Engine) -> None:
    docs.add("plan", PLAN)
    version = _version(engine)
    with pytest.raises(Conflict, match="named 'plan' already exists") as exc:
        docs.add("plan", PLAN + " Extra words.")
    assert exc.value.code == "document_exists"
    with pytest.raises(Conflict, match="already registered as guard document 'plan'"):
        docs.add("plan-copy", PLAN)
    assert _version(engine) == version
    assert len(_audit(engine)) == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "document_empty"),
        ("  \n ... ", "document_empty"),
        ("only a few words here", "document_too_short"),
    ],
)
def test_empty_or_short_text_is_refused(docs: GuardDocuments, text: str, code: str) -> None:
    with pytest.raises(Invalid) as exc:
        docs.add("short", text)
    assert exc.value.code == code
    assert docs.list() == []


def test_minimum_follows_the_configured_passage_length(engine: Engine) -> None:
    strict = GuardDocuments(session_factory(engine), min_words=100)
    with pytest.raises(Invalid, match="at least 100 words"):
        strict.add("plan", PLAN)
    assert GuardDocuments(session_factory(engine), min_words=8).add("plan", PLAN).words > 30


def test_bad_name_is_refused(docs: GuardDocuments) -> None:
    with pytest.raises(Invalid, match="document name 'my plan' is not valid"):
        docs.add("my plan", PLAN)


def test_text_is_never_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'steward.db'}"
    upgrade(url)
    eng = make_engine(url)
    docs = GuardDocuments(session_factory(eng))
    docs.add("plan", PLAN, actor=ACTOR)
    docs.add("plan-2", PLAN.replace("Quetzalcoatl", "Tlaloc"), actor=ACTOR)
    docs.remove("plan-2", actor=ACTOR)
    eng.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"Quetzalcoatl" not in stored
    assert b"Tlaloc" not in stored
    assert b"fraud team" not in stored


def test_registered_document_reaches_the_gateway_scanner(
    docs: GuardDocuments, engine: Engine, tmp_path: Path
) -> None:
    runtime = GuardRuntime(GuardSettings(), tmp_path)
    leak = f"Please summarise this for me: {PLAN[:260]} Thanks!"
    assert [f.entity for f in runtime.scanner.scan(leak)] == []
    docs.add("bluebird", PLAN)
    with Session(engine) as s:
        runtime.on_snapshot(load_snapshot(s))
    (found,) = [f for f in runtime.scanner.scan(leak) if f.entity == "DOCUMENT"]
    assert found.label == "bluebird"
    assert docs.fingerprint_index().match(leak)[0][0] == docs.get("bluebird").id
    docs.remove("bluebird")
    with Session(engine) as s:
        runtime.on_snapshot(load_snapshot(s))
    assert [f for f in runtime.scanner.scan(leak) if f.entity == "DOCUMENT"] == []


# -- dry runs --------------------------------------------------------------------------------

TEXT = "Mail bob@example.com, card 4111 1111 1111 1111."
KEYED = Keyed(b"k" * 32)


@pytest.fixture(scope="module")
def default_scanner() -> Scanner:
    return Scanner(DetectorConfig())


def _settings(**profiles: object) -> GuardSettings:
    return GuardSettings.model_validate({"profiles": profiles})


def test_default_profile_redacts_cards_and_logs_email(default_scanner: Scanner) -> None:
    result = preview(GuardSettings(), default_scanner, KEYED, TEXT)
    assert result.profiles == ["default"] and result.outcome == "modified"
    assert [(f.entity, f.action) for f in result.findings] == [
        ("EMAIL_ADDRESS", "log"),
        ("CREDIT_CARD", "redact"),
    ]
    assert result.text == "Mail bob@example.com, card [CREDIT_CARD]."
    email = result.findings[0]
    assert TEXT[email.start : email.end] == "bob@example.com"


def test_profile_combines_with_default_strictest_wins(default_scanner: Scanner) -> None:
    settings = _settings(
        lenient={"input": {"*": "allow"}}, pseudo={"input": {"pii": "pseudonymize"}}
    )
    lenient = preview(settings, default_scanner, KEYED, TEXT, profile="lenient")
    assert lenient.profiles == ["default", "lenient"]
    assert lenient.text == "Mail bob@example.com, card [CREDIT_CARD]."
    pseudo = preview(settings, default_scanner, KEYED, TEXT, profile="pseudo")
    assert pseudo.text == "Mail <EMAIL_ADDRESS_1>, card [CREDIT_CARD]."
    assert [(f.action, f.profile) for f in pseudo.findings] == [
        ("pseudonymize", "pseudo"),
        ("redact", "default"),
    ]


def test_block_and_approval_outcomes(default_scanner: Scanner) -> None:
    settings = _settings(
        strict={"input": {"CREDIT_CARD": "block"}},
        careful={"output": {"EMAIL_ADDRESS": "require_approval"}, "input": {"*": "hash"}},
    )
    blocked = preview(settings, default_scanner, KEYED, TEXT, profile="strict")
    assert blocked.outcome == "blocked"
    assert [f.action for f in blocked.findings] == ["log", "block"]
    approval = preview(
        settings, default_scanner, KEYED, TEXT, profile="careful", direction="output"
    )
    assert approval.outcome == "approval_required"
    hashed = preview(settings, default_scanner, KEYED, TEXT, profile="careful")
    digest = KEYED.digest("bob@example.com", 12)
    assert hashed.text == f"Mail [EMAIL_ADDRESS:{digest}], card [CREDIT_CARD]."


def test_clean_text_is_allowed(default_scanner: Scanner) -> None:
    result = preview(GuardSettings(), default_scanner, KEYED, "Nothing to see here.")
    assert (result.outcome, result.findings, result.text) == ("allowed", [], "Nothing to see here.")


def test_unknown_profile_or_direction_is_invalid(default_scanner: Scanner) -> None:
    with pytest.raises(Invalid, match="profile 'nope' is not defined; defined profiles: default"):
        preview(GuardSettings(), default_scanner, KEYED, TEXT, profile="nope")
    with pytest.raises(Invalid, match="direction 'sideways'"):
        preview(GuardSettings(), default_scanner, KEYED, TEXT, direction="sideways")
