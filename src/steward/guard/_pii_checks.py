"""Validators for personal data that need more than a check digit."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers

_IMAGE_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tiff"})
_CODE_TLDS = frozenset({"js", "ts", "py", "rb", "go", "rs", "java", "css", "html", "json", "md"})
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
_NANP_REGIONS = frozenset({"US", "CA"})
_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january", "januar", "janvier", "enero"),
            ("feb", "february", "februar", "février", "fevrier", "febrero"),
            ("mar", "march", "märz", "maerz", "mars", "marzo"),
            ("apr", "april", "avril", "abril"),
            ("may", "mai", "mayo"),
            ("jun", "june", "juni", "juin", "junio"),
            ("jul", "july", "juli", "juillet", "julio"),
            ("aug", "august", "août", "aout", "agosto"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "oktober", "okt", "octobre", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "dezember", "dez", "décembre", "decembre", "diciembre"),
        ),
        start=1,
    )
    for m in names
}
_NUMERIC_DATE = re.compile(r"(\d{1,4})[-./](\d{1,2})[-./](\d{2,4})")
_WORD_DATE = re.compile(
    r"(?:(\d{1,2})(?:st|nd|rd|th)?\.?\s+(?:of\s+|de\s+)?([^\W\d_]+)\.?,?\s+(?:de\s+)?(\d{4}))"
    r"|(?:([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}))"
)


def email_ok(value: str) -> bool:
    """Reject file names that look like addresses (``icon@2x.png``) and malformed locals."""
    local, _, domain = value.rpartition("@")
    tld = domain.rsplit(".", 1)[-1].lower()
    if tld in _IMAGE_TLDS or tld in _CODE_TLDS:
        return False
    return not (local.startswith(".") or local.endswith(".") or ".." in value)


def ipv4_ok(value: str) -> bool:
    """A dotted quad that ``ipaddress`` accepts (no leading zeros, each part <= 255)."""
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    # The unspecified and broadcast addresses identify nobody.
    return value not in ("0.0.0.0", "255.255.255.255")  # noqa: S104


def ipv6_ok(value: str) -> bool:
    """An IPv6 address with at least two non-empty groups (rules out ``std::`` and ``1::2``)."""
    groups = [g for g in value.split(":") if g]
    if len(groups) < 2 or len(value) < 6:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def make_phone_check(regions: tuple[str, ...]) -> Callable[[str], bool]:
    """A phone validator: ``phonenumbers`` with the configured region hints, memoised."""

    @lru_cache(maxsize=8192)
    def check(value: str) -> bool:
        digits = sum(ch.isdigit() for ch in value)
        if not 7 <= digits <= 15 or _DATE_LIKE.match(value):
            return False
        if value.startswith(("+", "00")):
            raw = "+" + value[2:] if value.startswith("00") else value
            return _valid(raw, None)
        national = value.lstrip("(").lstrip()
        # National formats: 8-11 digits, one more with a trunk 0 (DE mobiles: 0151 12345678).
        if not 8 <= digits <= (12 if national.startswith("0") else 11):
            return False
        for region in regions:
            # A leading trunk 0 never starts a NANP number; a bare 10-digit number rarely
            # starts with 0 in NANP, so skip the pointless parses.
            if national.startswith("0") and region in _NANP_REGIONS:
                continue
            if _valid(value, region):
                return True
        return False

    return check


def bare_national(region: str) -> bool:
    """Whether numbers of ``region`` are commonly written without a leading trunk 0.

    True where the region has no trunk prefix "0" (NANP, Spain, Italy, ...), and for India,
    where mobiles are usually written as ten bare digits.
    """
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return region == "IN" or meta is None or meta.national_prefix != "0"


def _valid(raw: str, region: str | None) -> bool:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def _plausible(year: int, month: int, day: int) -> bool:
    if year < 100:
        year += 1900 if year > 30 else 2000
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date.today()


def date_ok(value: str) -> bool:
    """A real calendar date between 1900 and today (numeric or with a month name)."""
    m = _NUMERIC_DATE.fullmatch(value)
    if m:
        a, b, c = (int(x) for x in m.groups())
        if len(m.group(1)) == 4:
            return _plausible(a, b, c)
        # Day-first and month-first are both common; accept either reading.
        return _plausible(c, b, a) or _plausible(c, a, b)
    m = _WORD_DATE.fullmatch(value)
    if not m:
        return False
    if m.group(1):
        day, month_name, year = m.group(1), m.group(2), m.group(3)
    else:
        month_name, day, year = m.group(4), m.group(5), m.group(6)
    month = _MONTHS.get(month_name.lower())
    return month is not None and _plausible(int(year), month, int(day))
