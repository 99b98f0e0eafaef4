from __future__ import annotations

import random

from steward.guard import DetectorConfig, FingerprintIndex, Scanner, fingerprint

WORDS = [
    "revenue",
    "margin",
    "forecast",
    "churn",
    "pipeline",
    "acquisition",
    "roadmap",
    "pricing",
    "partner",
    "launch",
    "budget",
    "headcount",
    "region",
    "quarter",
    "target",
    "board",
    "risk",
    "supplier",
    "contract",
    "renewal",
]


def prose(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) + rng.choice(["", "", ",", "."]) for _ in range(n))


def test_passage_of_registered_doc_is_found() -> None:
    rng = random.Random(1)
    doc = prose(rng, 1500)
    index = FingerprintIndex()
    hashes = index.add_text("doc-1", doc, "Q3 board pack")
    assert hashes and all(isinstance(h, int) and 0 <= h < 2**64 for h in hashes)
    words = doc.split()
    passage = " ".join(words[700:800])
    prompt = "Summarise this for me please. " + passage + " Thanks, and keep it short."
    ((doc_id, shared, coverage),) = index.match(prompt)
    assert doc_id == "doc-1" and shared >= 10 and coverage > 0.9
    (finding,) = Scanner(
        DetectorConfig(pii=False, secrets=False, injection=False), fingerprints=index
    ).scan(prompt)
    assert (finding.entity, finding.data_class, finding.label) == (
        "DOCUMENT",
        "confidential",
        "Q3 board pack",
    )
    assert prompt.index(passage[:30]) <= finding.start + 5
    assert finding.end >= prompt.index(passage) + len(passage) - 60


def test_small_edits_and_formatting_still_match() -> None:
    rng = random.Random(2)
    doc = prose(rng, 800)
    index = FingerprintIndex()
    index.add("d", fingerprint(doc))
    words = doc.split()[100:200]
    for i in (15, 45, 75):
        words[i] = "EDITED"
    edited = "\n".join(" ".join(words[i : i + 10]).upper() for i in range(0, 100, 10))
    assert [m[0] for m in index.match(edited)] == ["d"]


def test_unrelated_text_does_not_match() -> None:
    rng = random.Random(3)
    index = FingerprintIndex()
    index.add_text("d", prose(rng, 1000))
    other = prose(random.Random(99), 300)  # same vocabulary, different text
    assert index.match(other) == []
    assert index.match("A short question about something else entirely.") == []


def test_remove_and_replace() -> None:
    index = FingerprintIndex()
    text = prose(random.Random(4), 200)
    index.add_text("d", text)
    assert len(index) == 1
    index.remove("d")
    assert len(index) == 0 and index.match(text) == []


def test_fingerprints_are_stable() -> None:
    # Stored hashes must not depend on the process (no hash() randomisation).
    assert min(fingerprint("one two three four five six seven eight nine ten")) == min(
        fingerprint("ONE two, three; four five six seven eight nine ten!")
    )
