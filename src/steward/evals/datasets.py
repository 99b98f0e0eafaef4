"""Golden datasets: JSONL files, one item per line, read with errors that name the line.

    {"id": "q1", "messages": [{"role": "user", "content": "..."}], "expected": "...",
     "metadata": {"topic": "billing"}, "response_format": {"type": "json_object"}}

`input` (a string) may replace `messages` for a single user turn; `id`, `expected`, `metadata`
and `response_format` are optional."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

_ROLES = frozenset({"system", "user", "assistant", "developer", "tool"})
_KEYS = frozenset({"id", "messages", "input", "expected", "metadata", "response_format"})


class DatasetError(ValueError):
    """The dataset file cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Item:
    """One golden example."""

    index: int
    messages: list[dict[str, str]]
    id: str | None = None
    expected: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    """A loaded dataset: where it came from, its content hash, its items."""

    name: str
    sha256: str
    items: list[Item]


def _messages(raw: dict[str, Any], where: str) -> list[dict[str, str]]:
    if "messages" in raw:
        msgs = raw["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise DatasetError(f"{where}: 'messages' must be a non-empty list")
        out = []
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in _ROLES:
                raise DatasetError(
                    f"{where}: messages[{i}] needs a role ({', '.join(sorted(_ROLES))})"
                )
            if not isinstance(m.get("content"), str):
                raise DatasetError(f"{where}: messages[{i}].content must be a string")
            out.append({"role": m["role"], "content": m["content"]})
        return out
    if isinstance(raw.get("input"), str) and raw["input"].strip():
        return [{"role": "user", "content": raw["input"]}]
    raise DatasetError(f"{where}: each item needs 'messages' (a list) or 'input' (a string)")


def parse_item(raw: Any, index: int, where: str) -> Item:
    """One item from a decoded JSON line."""
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: an item must be a JSON object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise DatasetError(
            f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})"
        )
    expected = raw.get("expected")
    if expected is not None and not isinstance(expected, str):
        expected = orjson.dumps(expected).decode()  # a structured reference, compared as JSON
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise DatasetError(f"{where}: 'metadata' must be an object")
    fmt = raw.get("response_format")
    if fmt is not None and not isinstance(fmt, dict):
        raise DatasetError(f"{where}: 'response_format' must be an object")
    item_id = raw.get("id")
    return Item(
        index=index,
        messages=_messages(raw, where),
        id=str(item_id) if item_id is not None else None,
        expected=expected,
        metadata=metadata,
        response_format=fmt,
    )


def load_dataset(path: str | Path) -> Dataset:
    """Read a JSONL dataset (blank lines and lines starting with // are skipped)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read dataset {p}: {exc.strerror or exc}") from exc
    items: list[Item] = []
    for n, line in enumerate(data.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(b"//"):
            continue
        where = f"{p}:{n}"
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not valid JSON ({exc})") from exc
        items.append(parse_item(raw, len(items), where))
    if not items:
        raise DatasetError(f"{p}: the dataset has no items")
    return Dataset(name=str(p), sha256=hashlib.sha256(data).hexdigest(), items=items)
