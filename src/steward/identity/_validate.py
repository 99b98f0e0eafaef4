"""Input rules shared by every front end: names, e-mail addresses, free text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from steward.identity.errors import Invalid
from steward.identity.records import DATA_CLASSES

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_TEXT = 2000


def clean_name(kind: str, name: str) -> str:
    """Names are references on the command line and in URLs, so they stay simple."""
    value = name.strip()
    if not _NAME.match(value):
        raise Invalid(
            f"{kind} name '{name}' is not valid; use 1-100 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit (e.g. 'support')",
            code="invalid_name",
        )
    return value


def clean_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    value = email.strip()
    if len(value) > 320 or not _EMAIL.match(value):
        raise Invalid(
            f"'{email}' is not an e-mail address; write it like alice@example.com",
            code="invalid_email",
        )
    return value


def clean_text(field: str, text: str | None, max_len: int = _MAX_TEXT) -> str:
    value = (text or "").strip()
    if len(value) > max_len:
        raise Invalid(
            f"{field} is {len(value)} characters long; keep it to {max_len} at most",
            code="invalid_text",
        )
    return value


def choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Invalid(
            f"{field} '{value}' is not one of {', '.join(allowed)}; choose one of those",
            code=f"invalid_{field.replace(' ', '_')}",
        )
    return value


def clean_data_classes(values: Sequence[str] | None) -> list[str]:
    """Data classes in the order given, without duplicates, each a known class."""
    out: list[str] = []
    for raw in values or ():
        value = raw.strip().lower()
        if not value:
            continue
        if value not in DATA_CLASSES:
            raise Invalid(
                f"data class '{raw}' is not one of {', '.join(DATA_CLASSES)}; choose from those",
                code="invalid_data_class",
            )
        if value not in out:
            out.append(value)
    return out
