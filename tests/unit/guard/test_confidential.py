from __future__ import annotations

import random
import string

import pytest

from steward.guard import DetectorConfig, GuardConfigError, Scanner


def only_confidential(**kw: object) -> Scanner:
    return Scanner(DetectorConfig(pii=False, secrets=False, injection=False, **kw))  # type: ignore[arg-type]


def test_thousands_of_terms_in_one_pass() -> None:
    rng = random.Random(7)
    terms = sorted({"".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 11)))
                    for _ in range(2000)})
    terms += ["Project Falcon", "Zürich Holdings", "ACME-42"]
    scanner = only_confidential(terms={"codenames": terms[:1500], "customers": terms[1500:]})
    assert scanner.pattern_count == len(terms)
    text = (f"Status of project  falcon: {terms[3].upper()} signed; "
            f"{terms[1600]} wants a demo, zürich holdings too; acme-42 and ACME-420.")
    hits = [(f.label, text[f.start:f.end]) for f in scanner.scan(text)]
    assert hits == [
        ("customers", "project  falcon"),
        ("codenames", terms[3].upper()),
        ("customers", terms[1600]),
        ("customers", "zürich holdings"),
        ("customers", "acme-42"),
    ]


def test_terms_match_whole_words_only() -> None:
    scanner = only_confidential(terms={"names": ["Falcon"]})
    assert scanner.scan("falconry and Falcons") == []
    (f,) = scanner.scan("the Falcon launch")
    assert (f.entity, f.data_class, f.detector, f.label) == ("TERM", "confidential", "terms",
                                                             "names")


def test_custom_regex() -> None:
    scanner = only_confidential(regexes={
        "project_code": r"\bPRJ-[0-9]{4}\b",
        "ticket": {"pattern": r"\bsec-[0-9]+\b", "case_insensitive": True, "score": 0.7},
    })
    text = "see PRJ-1234 and SEC-77"
    got = [(f.entity, f.label, text[f.start:f.end], f.score) for f in scanner.scan(text)]
    assert got == [("CUSTOM", "project_code", "PRJ-1234", 0.9), ("CUSTOM", "ticket", "SEC-77", 0.7)]


@pytest.mark.parametrize(("pattern", "why"), [
    ("(unclosed", "parenthesis"),
    ("a(?=b)", "ero-width"),  # lookahead
    (r"(a)\1", ""),  # backreference
    ("x*", "empty"),
])
def test_bad_custom_regex_names_the_culprit(pattern: str, why: str) -> None:
    with pytest.raises(GuardConfigError) as err:
        only_confidential(regexes={"ok": "fine[0-9]", "broken_one": pattern})
    message = str(err.value)
    assert "guard.regexes.broken_one" in message and repr(pattern) in message
    assert why in message


def test_config_rejects_unknown_entities_and_regions() -> None:
    with pytest.raises(ValueError, match="unknown entity"):
        DetectorConfig(entities=["CREDIT_CARDS"])
    with pytest.raises(ValueError, match="unknown phone region"):
        DetectorConfig(phone_regions=["XX"])
    with pytest.raises(ValueError, match="extra"):
        DetectorConfig(colour="red")  # type: ignore[call-arg]


def test_entity_filters() -> None:
    text = "mail a@b.com card 4111 1111 1111 1111"
    only_cards = Scanner(DetectorConfig(entities=["CREDIT_CARD"]))
    assert [f.entity for f in only_cards.scan(text)] == ["CREDIT_CARD"]
    no_cards = Scanner(DetectorConfig(disabled_entities=["CREDIT_CARD"]))
    assert [f.entity for f in no_cards.scan(text)] == ["EMAIL_ADDRESS"]


def test_nothing_enabled_scans_nothing() -> None:
    scanner = only_confidential()
    assert scanner.pattern_count == 0 and scanner.max_match_len == 0
    assert scanner.scan("4111 1111 1111 1111") == []
