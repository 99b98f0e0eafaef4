from __future__ import annotations

from collections.abc import Callable

import pytest

from steward.guard import DetectorConfig, Finding, Scanner


@pytest.fixture(scope="session")
def scanner() -> Scanner:
    """The default detectors (PII, secrets, injection), compiled once."""
    return Scanner(DetectorConfig())


@pytest.fixture(scope="session")
def found(scanner: Scanner) -> Callable[[str], list[tuple[str, str]]]:
    """(entity, matched text) pairs for a text, with the default scanner."""

    def run(text: str) -> list[tuple[str, str]]:
        return [(f.entity, text[f.start : f.end]) for f in scanner.scan(text)]

    return run


def entities(findings: list[Finding]) -> list[str]:
    return [f.entity for f in findings]
