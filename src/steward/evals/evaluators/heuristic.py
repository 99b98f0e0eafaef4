"""Heuristic evaluators: cheap, local checks of an answer. Scores are 1.0 (fine) or 0.0
(problem), except latency, whose score is the latency in milliseconds (lower is better)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson

from steward.evals.evaluators.base import Evaluator, Subject, Verdict

# Refusals are judged on the opening of the answer, where models put them; a later "I cannot"
# inside a helpful answer is not a refusal.
_REFUSAL = re.compile(
    r"\b(?:"
    r"I(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:'|no)t|cannot|am unable|won't)"
    r"|I (?:can(?:'|no)?t|cannot|won't|will not|am unable to|am not able to) "
    r"(?:help|assist|comply|provide|do that|answer|fulfil|fulfill|support|share|discuss)"
    r"|I must (?:decline|refuse)"
    r"|(?:I'm|I am) not (?:able|allowed|permitted) to"
    r"|as an AI(?: language model)?,? I (?:can(?:'|no)t|cannot|don't|do not)"
    r"|(?:this|that) (?:request )?(?:goes|is) against (?:my|our) (?:guidelines|policies|polic)"
    r"|I(?:'m| am) unable to (?:help|assist|comply|provide)"
    r")",
    re.IGNORECASE,
)
_REFUSAL_WINDOW = 300
_TRUNCATED = frozenset({"length", "max_tokens"})
_WORD = re.compile(r"\w", re.UNICODE)


class Refusal(Evaluator):
    """The model declined to answer ("I'm sorry, but I can't help with that")."""

    kind: ClassVar[str] = "refusal"

    async def evaluate(self, subject: Subject) -> Verdict | None:
        m = _REFUSAL.search(subject.answer[:_REFUSAL_WINDOW])
        if m is None:
            return Verdict(1.0, "no refusal")
        return Verdict(0.0, f"refusal: {m.group(0)!r}")


class Empty(Evaluator):
    """No answer: empty, whitespace or punctuation only."""

    kind: ClassVar[str] = "empty"

    async def evaluate(self, subject: Subject) -> Verdict | None:
        if _WORD.search(subject.answer):
            return Verdict(1.0, f"{len(subject.answer)} characters")
        return Verdict(0.0, "the answer is empty")


class Truncated(Evaluator):
    """The answer was cut by the token limit (finish_reason length / max_tokens)."""

    kind: ClassVar[str] = "truncated"

    async def evaluate(self, subject: Subject) -> Verdict | None:
        reason = subject.finish_reason
        if reason in _TRUNCATED:
            return Verdict(0.0, f"cut at the token limit (finish_reason={reason})")
        return Verdict(1.0, f"finish_reason={reason}")


def _schema(fmt: dict[str, Any]) -> dict[str, Any] | None:
    spec = fmt.get("json_schema")
    if fmt.get("type") == "json_schema" and isinstance(spec, dict):
        schema = spec.get("schema")
        return schema if isinstance(schema, dict) else None
    return None


def schema_errors(value: Any, schema: dict[str, Any], limit: int = 3) -> list[str]:
    """Up to `limit` ways `value` violates the JSON Schema, as readable strings."""
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    out = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{where}: {err.message}"[:300])
        if len(out) >= limit:
            break
    return out


class JsonValid(Evaluator):
    """When JSON was requested (response_format): the answer parses and fits the schema."""

    kind: ClassVar[str] = "json"

    async def evaluate(self, subject: Subject) -> Verdict | None:
        fmt = subject.response_format
        if not fmt:
            return None
        try:
            value = orjson.loads(subject.answer)
        except orjson.JSONDecodeError as exc:
            return Verdict(0.0, f"not valid JSON: {exc}"[:500])
        schema = _schema(fmt)
        if schema is None:
            if fmt.get("type") == "json_object" and not isinstance(value, dict):
                return Verdict(0.0, "valid JSON but not an object (json_object was requested)")
            return Verdict(1.0, "valid JSON")
        try:
            errors = schema_errors(value, schema)
        except Exception as exc:  # a schema the validator cannot read
            return Verdict(None, f"the requested schema could not be checked: {exc}"[:500])
        if errors:
            return Verdict(0.0, "does not match the schema: " + "; ".join(errors))
        return Verdict(1.0, "valid JSON matching the schema")


class GuardFindings(Evaluator):
    """The guard's detectors found sensitive data (PII, secrets...) in the answer."""

    kind: ClassVar[str] = "guard_findings"

    async def evaluate(self, subject: Subject) -> Verdict | None:
        found = subject.answer_findings or {}
        if not found:
            return Verdict(1.0, "no findings in the answer")
        listed = ", ".join(f"{k} x{v}" for k, v in sorted(found.items()))
        return Verdict(0.0, f"findings in the answer: {listed}")


class Latency(Evaluator):
    """The request took longer than the threshold (milliseconds; default 10 s)."""

    kind: ClassVar[str] = "latency"
    default_threshold: ClassVar[float] = 10_000.0
    higher_is_better: ClassVar[bool] = False

    async def evaluate(self, subject: Subject) -> Verdict | None:
        if subject.latency_ms is None:
            return None
        ms = float(subject.latency_ms)
        return Verdict(ms, f"{ms:.0f} ms (limit {self.threshold:.0f} ms)")
