"""What the simulator says: canned assistant prose picked by a hash, and JSON instances of a
JSON Schema. Everything is a pure function of its inputs and a seed, so runs are reproducible."""

from __future__ import annotations

import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["answer_text", "rng_for", "schema_instance", "tool_result_text", "topic_of"]

_CORPUS = (
    "The short answer is that it depends on your constraints, so it helps to start with the "
    "simplest option that could work.",
    "A good first step is to write down what success looks like and how you will measure it.",
    "Most problems of this kind come down to a trade-off between speed, cost and reliability.",
    "In practice, small and frequent iterations tend to beat a single large change.",
    "It is worth checking the assumptions behind the question before committing to a plan.",
    "Here is how I would approach it: gather the facts, compare two or three options, and "
    "pick the one that is easiest to undo.",
    "Keep in mind that the details matter, and edge cases often decide the final design.",
    "If you share more context, such as your goals or the data involved, I can be more specific.",
    "Documentation and clear naming save more time later than almost any clever shortcut.",
    "A useful rule of thumb is to optimise only after you have measured where the time goes.",
    "There are several well-tested approaches, and each has known strengths and weaknesses.",
    "Breaking the work into smaller steps makes it easier to test each part on its own.",
    "Security and privacy should be considered from the start rather than added at the end.",
    "For most teams, the boring and proven choice is the right default.",
    "Automating the repetitive parts frees people to focus on the decisions that need judgement.",
    "It also helps to plan for failure: retries, timeouts and clear error messages.",
    "Finally, review the result with someone else, since a fresh pair of eyes catches "
    "mistakes quickly.",
    "Many people find that a written checklist prevents the most common errors.",
    "The numbers usually tell a clearer story once they are plotted over time.",
    "When in doubt, choose the option that keeps your future choices open.",
    "An example often explains an idea better than a long description does.",
    "Costs can be kept under control with budgets, alerts and regular reviews.",
    "Consistency matters more than perfection when a process is repeated every day.",
    "I hope this gives you a useful starting point.",
)
_OPENERS = (
    "You asked about {topic}.",
    "Regarding {topic}:",
    "Here is an overview of {topic}.",
    "Good question about {topic}.",
    "Let me help with {topic}.",
)
_STOPWORD_TEXT = (
    "a an and are about as at be can could do does for from how i in is it me my of on or "
    "please should tell the this to what when where which who why will with would you your"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# placeholders (<EMAIL_ADDRESS_1>) and redaction marks ([CREDIT_CARD]) are echoed intact, as
# real models do, so pseudonymization round trips can be shown with the simulator
_WORD = re.compile(r"<[A-Z][A-Z0-9_]*_\d+>|\[[A-Z][A-Z0-9_]*(?::[0-9a-f]+)?\]|[^\W_][\w'-]*")
_TOPIC_WORDS = 6
_TOPIC_CHARS = 60
_SNIPPET_CHARS = 120
_MAX_DEPTH = 8  # schema nesting followed before giving up (recursive `$ref`s)
_OPTIONAL_DEPTH = 3  # optional properties are filled in only this close to the root


def rng_for(*parts: object) -> random.Random:
    """A generator seeded by a stable hash of `parts` (Python's `hash()` is salted per run)."""
    key = "\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def topic_of(question: str) -> str:
    """The first few meaningful words of a question, to echo back ("" when there are none)."""
    words = [w for w in _WORD.findall(question[:2_000]) if w.lower() not in _STOPWORDS]
    return " ".join(words[:_TOPIC_WORDS])[:_TOPIC_CHARS].strip()


def answer_text(question: str, seed: int) -> str:
    """A few sentences of plausible prose; the same question and seed give the same answer."""
    rng = rng_for(seed, "answer", question)
    topic = topic_of(question)
    opener = rng.choice(_OPENERS).format(topic=f'"{topic}"' if topic else "your question")
    return " ".join([opener, *rng.sample(_CORPUS, rng.randint(3, 6))])


def tool_result_text(tool_name: str | None, result: str, seed: int) -> str:
    """A short answer that reports a tool's result."""
    rng = rng_for(seed, "tool", tool_name, result)
    snippet = " ".join(result.split())
    if len(snippet) > _SNIPPET_CHARS:
        snippet = snippet[: _SNIPPET_CHARS - 3] + "..."
    source = f"The {tool_name} tool" if tool_name else "The tool"
    return " ".join([f"{source} returned: {snippet}", *rng.sample(_CORPUS, 2)])


# --- JSON Schema instances -------------------------------------------------------------------

Schema = Mapping[str, Any]
_WORDS = ("alpha", "bravo", "delta", "echo", "harbor", "meadow", "orbit", "signal", "summit")
_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date": lambda r: f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "date-time": lambda r: f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T12:00:00Z",
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00",
    "email": lambda r: f"{r.choice(_WORDS)}@example.com",
    "uri": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "url": lambda r: f"https://example.com/{r.choice(_WORDS)}",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "ipv4": lambda r: f"192.0.2.{r.randint(1, 254)}",
    "hostname": lambda r: f"{r.choice(_WORDS)}.example.com",
}


def schema_instance(schema: Any, rng: random.Random) -> Any:
    """A JSON value that conforms to `schema` (objects, arrays, strings, numbers, integers,
    booleans, null, enum/const, anyOf/oneOf/allOf and local `$ref`s). `pattern` is not honoured;
    a schema too malformed to follow gives `{}`.
    """
    try:
        return _instance(schema, rng, schema if isinstance(schema, Mapping) else {}, 0)
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        return {}


def _instance(schema: Any, rng: random.Random, root: Schema, depth: int) -> Any:
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return None if depth > _MAX_DEPTH else rng.choice(_WORDS)
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _instance(_first_non_null(options, root), rng, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        return _instance(_merge_all_of(schema, root), rng, root, depth + 1)
    build = _BUILDERS.get(_type_of(schema), _string)
    return build(schema, rng, root, depth)


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return schema
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _first_non_null(options: list[Any], root: Schema) -> Any:
    for option in options:
        if isinstance(option, Mapping) and _resolve(option, root).get("type") != "null":
            return option
    return options[0]


def _merge_all_of(schema: Schema, root: Schema) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    props: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[Any] = list(merged.get("required") or [])
    for part in schema["allOf"]:
        if not isinstance(part, Mapping):
            continue
        part = _resolve(part, root)
        for key, value in part.items():
            merged.setdefault(key, value)
        props.update(part.get("properties") or {})
        required.extend(r for r in part.get("required") or [] if r not in required)
    if props:
        merged["properties"] = props
    if required:
        merged["required"] = required
    return merged


def _type_of(schema: Schema) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema or "prefixItems" in schema else "string"


def _object(schema: Schema, rng: random.Random, root: Schema, depth: int) -> dict[str, Any]:
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    names = list(props) if depth < _OPTIONAL_DEPTH else [n for n in props if n in required]
    out = {name: _instance(props[name], rng, root, depth + 1) for name in names}
    for name in required:
        if name not in out:  # required without a declared schema
            out[name] = rng.choice(_WORDS)
    return out


def _array(schema: Schema, rng: random.Random, root: Schema, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems")
    prefix = prefix if isinstance(prefix, list) else []
    low = max(_count(schema.get("minItems"), 0), len(prefix))
    high = _count(schema.get("maxItems"), max(low, 2))
    count = min(max(low, min(2, high)), high)
    items = schema.get("items")
    item_schema = items if isinstance(items, Mapping) else {}
    out = [_instance(s, rng, root, depth + 1) for s in prefix[:count]]
    out.extend(_instance(item_schema, rng, root, depth + 1) for _ in range(count - len(out)))
    if schema.get("uniqueItems"):
        out = _unique(out)
    return out


def _unique(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _count(value: Any, default: int) -> int:
    natural = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if natural else default


def _string(schema: Schema, rng: random.Random, root: Schema, depth: int) -> str:
    make = _FORMATS.get(str(schema.get("format")))
    text = make(rng) if make else " ".join(rng.sample(_WORDS, 2))
    low = _count(schema.get("minLength"), 0)
    if len(text) < low:
        text = (text + " ") * (low // (len(text) + 1) + 1)
    high = schema.get("maxLength")
    return text[:high] if isinstance(high, int) and high >= low else text


def _num(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _bounds(schema: Schema, default_low: float, default_high: float) -> tuple[float, float]:
    """Inclusive bounds (defaulting to a small range inside any one-sided limit)."""
    low, high = _num(schema.get("minimum")), _num(schema.get("maximum"))
    ex_low, ex_high = _num(schema.get("exclusiveMinimum")), _num(schema.get("exclusiveMaximum"))
    if ex_low is not None:
        low = ex_low + _nudge(ex_low) if low is None else max(low, ex_low + _nudge(ex_low))
    if ex_high is not None:
        high = ex_high - _nudge(ex_high) if high is None else min(high, ex_high - _nudge(ex_high))
    if low is None:
        low = min(default_low, high) if high is not None else default_low
    if high is None:
        high = max(default_high, low + (default_high - default_low))
    return low, high


def _nudge(bound: float) -> float:
    return (abs(bound) + 1.0) * 1e-9 if isinstance(bound, float) else 1e-9


def _number(schema: Schema, rng: random.Random, root: Schema, depth: int) -> float:
    low, high = _bounds(schema, 0.0, 100.0)
    step = _num(schema.get("multipleOf"))
    if step is not None and step > 0:
        return _multiple(low, high, step, rng)
    value = round(rng.uniform(low, high), 2)
    return value if low <= value <= high else low


def _multiple(low: float, high: float, step: float, rng: random.Random) -> float:
    """A multiple of `step` in [low, high] that survives float division (0.37 / 0.01 is not
    37.0, so validators would reject it): a few random tries, then the first multiple."""
    first, last = math.ceil(low / step), math.floor(high / step)
    if first > last:
        return float(first * step)
    decimals = max(-math.floor(math.log10(step)), 0) + 2
    for _ in range(16):
        value = round(rng.randint(first, last) * step, decimals)
        if low <= value <= high and (value / step).is_integer():
            return value
    return float(first * step)


def _integer(schema: Schema, rng: random.Random, root: Schema, depth: int) -> int:
    low, high = _bounds(schema, 0, 100)
    lo, hi = math.ceil(low), math.floor(high)
    step = _num(schema.get("multipleOf"))
    if isinstance(step, int) and step > 0:
        first, last = -(-lo // step), hi // step
        return step * (rng.randint(first, last) if first <= last else first)
    return rng.randint(lo, hi) if lo <= hi else lo


def _boolean(schema: Schema, rng: random.Random, root: Schema, depth: int) -> bool:
    return rng.random() < 0.5


def _null(schema: Schema, rng: random.Random, root: Schema, depth: int) -> None:
    return None


_BUILDERS: dict[str, Callable[[Schema, random.Random, Schema, int], Any]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": _boolean,
    "null": _null,
}
