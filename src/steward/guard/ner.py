"""Optional NER backend for names and addresses (which need a language model).

The default scanner never imports this module's heavy dependencies. ``PresidioNer`` works
only when ``presidio_analyzer`` and an installed spaCy model (e.g. ``en_core_web_sm``) are
importable; it never downloads anything.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .findings import Finding, GuardConfigError

# Presidio entity -> Steward entity.
_ENTITY_MAP = {"PERSON": "PERSON", "LOCATION": "LOCATION", "GPE": "LOCATION", "ADDRESS": "ADDRESS"}


@runtime_checkable
class NerBackend(Protocol):
    """Anything that finds named entities in text and reports them as findings."""

    def findings(self, text: str) -> list[Finding]:
        """Findings (str offsets) for the entities this backend knows."""
        ...


class PresidioNer:
    """Names and locations from Presidio's spaCy NER recognizer, with a local spaCy model."""

    def __init__(self, model: str = "en_core_web_sm", min_score: float = 0.6) -> None:
        try:
            import spacy
            from presidio_analyzer import AnalyzerEngine
            from presidio_analyzer.nlp_engine import SpacyNlpEngine
        except ImportError as exc:
            raise GuardConfigError(
                "the NER backend needs presidio-analyzer and spaCy: pip install presidio-analyzer"
            ) from exc
        if not spacy.util.is_package(model):
            raise GuardConfigError(
                f"spaCy model {model!r} is not installed; install it as a package "
                "(nothing is downloaded at run time)"
            )
        engine: Any = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
        engine.nlp = {"en": spacy.load(model)}
        self._analyzer: Any = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
        self._entities = sorted(_ENTITY_MAP)
        self._min_score = min_score

    def findings(self, text: str) -> list[Finding]:
        """PERSON / LOCATION / ADDRESS findings from the spaCy model."""
        results = self._analyzer.analyze(text=text, language="en", entities=self._entities)
        return [
            Finding(_ENTITY_MAP[r.entity_type], "pii", "ner.presidio", r.start, r.end,
                    float(r.score))
            for r in results
            if r.score >= self._min_score and r.entity_type in _ENTITY_MAP
        ]
