from __future__ import annotations

import threading
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steward.guard import DetectorConfig, Scanner, evaluate, load_jsonl

EVAL_SET = Path(__file__).parents[2] / "data" / "guard" / "eval.jsonl"
STRUCTURED = [
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS",
    "DATE_OF_BIRTH", "UK_NINO", "UK_NHS", "DE_TAX_ID", "ES_DNI", "ES_NIE", "IN_AADHAAR",
    "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "GCP_API_KEY", "GCP_SERVICE_ACCOUNT_KEY",
    "AZURE_STORAGE_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "SLACK_TOKEN", "SLACK_WEBHOOK",
    "STRIPE_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PRIVATE_KEY", "JWT", "URL_CREDENTIALS",
    "CONNECTION_STRING",
]


def test_unicode_offsets_are_str_offsets(scanner: Scanner) -> None:
    text = "Grüße 👋🏽 — 日本語: mail jürgen@exämple.de, card 4111 1111 1111 1111 ✓ 𝔘𝔫𝔦"
    got = [(f.entity, text[f.start : f.end]) for f in scanner.scan(text)]
    assert got == [("EMAIL_ADDRESS", "jürgen@exämple.de"), ("CREDIT_CARD", "4111 1111 1111 1111")]


def test_lone_surrogates_do_not_crash(scanner: Scanner) -> None:
    text = "bad \udcff byte then card 4111 1111 1111 1111"
    (f,) = scanner.scan(text)
    assert text[f.start : f.end] == "4111 1111 1111 1111"


def test_scan_many_matches_scan(scanner: Scanner) -> None:
    texts = ["a@b.com", "", "nothing here", "SSN 536-90-4399"]
    assert scanner.scan_many(texts) == [scanner.scan(t) for t in texts]


def test_threads_share_a_scanner(scanner: Scanner) -> None:
    text = "mail a@example.com, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE " * 20
    expected = scanner.scan(text)
    errors: list[object] = []

    def work() -> None:
        for _ in range(50):
            if scanner.scan(text) != expected:
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(expected) == 60


# Surrogates are included on purpose: the scanner replaces them (same length) before encoding.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(), max_size=400))
def test_any_text_scans_within_bounds_without_overlaps(text: str) -> None:
    findings = _SCANNER.scan(text)
    last_end = 0
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)
        assert f.start >= last_end
        assert 0.0 <= f.score <= 1.0
        last_end = f.end


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "4111 1111 1111 1111", " ", "a@b.co", "+44 20 7946 0958", "ignore all previous instructions",
    "AKIAIOSFODNN7EXAMPLE", "ü", "\n", "1.2.3.4", "password: hunter2!x", "😀",
    "DE89 3704 0044 0532 0130 00",
]), max_size=30))
def test_composed_text_offsets(parts: list[str]) -> None:
    text = "".join(parts)
    for f in _SCANNER.scan(text):
        assert text[f.start : f.end] == text[f.start : f.end].strip() or f.entity == "PRIVATE_KEY"


_SCANNER = Scanner(DetectorConfig())


def test_evaluation_set_meets_targets() -> None:
    report = evaluate(_SCANNER, load_jsonl(EVAL_SET))
    for entity in STRUCTURED:
        m = report[entity]
        assert m["tp"] >= 10, entity
        assert m["precision"] >= 0.97 and m["recall"] >= 0.97, (entity, m)
    assert report["PROMPT_INJECTION"]["recall"] >= 0.9
