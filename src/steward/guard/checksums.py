"""Check-digit and structure rules for structured identifiers.

Each function takes the matched text (separators allowed) and says whether it is a plausible
real value. They are pure and cheap, so the scanner runs them on every candidate.
"""

from __future__ import annotations

_NON_ALNUM = str.maketrans("", "", " -./\t\n")

_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

# Issuer prefixes (IIN ranges) of the card networks people actually paste.
_CARD_PREFIXES: tuple[tuple[int, int, int], ...] = (
    # (prefix length, low, high)
    (1, 4, 4),  # Visa
    (2, 51, 55),  # Mastercard
    (4, 2221, 2720),  # Mastercard 2-series
    (2, 34, 34), (2, 37, 37),  # American Express
    (4, 6011, 6011), (2, 65, 65), (3, 644, 649),  # Discover
    (3, 300, 305), (2, 36, 36), (2, 38, 39),  # Diners Club
    (4, 3528, 3589),  # JCB
    (2, 62, 62),  # UnionPay
    (2, 50, 50), (2, 56, 58), (2, 67, 69),  # Maestro
)

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})
_NINO_BAD_FIRST = frozenset("DFIQUV")
_NINO_BAD_SECOND = frozenset("DFIQUVO")

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def compact(value: str) -> str:
    """The value without spaces, dashes, dots and slashes."""
    return value.translate(_NON_ALNUM)


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check over a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _uniform_separators(value: str) -> bool:
    seps = {ch for ch in value if not ch.isdigit()}
    return len(seps) <= 1


def credit_card_ok(value: str) -> bool:
    """13-19 digits, a known issuer prefix, consistent separators and a valid Luhn digit."""
    digits = compact(value)
    if not (13 <= len(digits) <= 19 and digits.isdigit()) or not _uniform_separators(value):
        return False
    if len(set(digits)) < 2:
        return False
    prefix_ok = any(lo <= int(digits[:n]) <= hi for n, lo, hi in _CARD_PREFIXES)
    return prefix_ok and luhn_ok(digits)


def iban_ok(value: str) -> bool:
    """Country length table and the ISO 13616 mod-97 check."""
    iban = compact(value).upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    if not iban.isalnum() or not iban.isascii():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def us_ssn_ok(value: str) -> bool:
    """SSA rules: no 000, 666 or 9xx area, no 00 group, no 0000 serial, no known fakes."""
    digits = compact(value)
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    # Numbers published in advertising and examples, and runs of one digit.
    return digits not in ("078051120", "219099999") and len(set(digits)) > 1


def uk_nino_ok(value: str) -> bool:
    """HMRC prefix rules for a National Insurance number (AA 99 99 99 A)."""
    nino = compact(value).upper()
    if len(nino) != 9 or not nino[2:8].isdigit() or nino[8] not in "ABCD":
        return False
    first, second = nino[0], nino[1]
    if first in _NINO_BAD_FIRST or second in _NINO_BAD_SECOND:
        return False
    return nino[:2] not in _NINO_BAD_PREFIXES


def uk_nhs_ok(value: str) -> bool:
    """NHS number: 10 digits with a mod-11 check digit (a remainder of 10 is never issued)."""
    digits = compact(value)
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum((10 - i) * (ord(ch) - 48) for i, ch in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == ord(digits[9]) - 48


def de_tax_id_ok(value: str) -> bool:
    """German Steuer-IdNr: 11 digits, digit-repetition rule, ISO 7064 MOD 11,10 check digit."""
    digits = compact(value)
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    head = digits[:10]
    counts = sorted((head.count(d) for d in set(head)), reverse=True)
    # Exactly one digit occurs twice or three times; every other digit at most once.
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] != 1):
        return False
    if counts[0] == 3:
        repeated = next(d for d in set(head) if head.count(d) == 3)
        if repeated * 3 in head:
            return False
    product = 10
    for ch in head:
        total = (ord(ch) - 48 + product) % 10 or 10
        product = (total * 2) % 11
    check = (11 - product) % 10
    return check == ord(digits[10]) - 48


def es_dni_ok(value: str) -> bool:
    """Spanish DNI: 8 digits and the mod-23 control letter."""
    dni = compact(value).upper()
    if len(dni) != 9 or not dni[:8].isdigit():
        return False
    return _DNI_LETTERS[int(dni[:8]) % 23] == dni[8]


def es_nie_ok(value: str) -> bool:
    """Spanish NIE: X/Y/Z, 7 digits and the mod-23 control letter (X=0, Y=1, Z=2)."""
    nie = compact(value).upper()
    if len(nie) != 9 or nie[0] not in "XYZ" or not nie[1:8].isdigit():
        return False
    number = int(str("XYZ".index(nie[0])) + nie[1:8])
    return _DNI_LETTERS[number % 23] == nie[8]


def verhoeff_ok(digits: str) -> bool:
    """Verhoeff dihedral-group check digit."""
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][ord(ch) - 48]]
    return check == 0


def in_aadhaar_ok(value: str) -> bool:
    """Aadhaar: 12 digits, first digit 2-9, not a palindrome-like run, Verhoeff check digit."""
    digits = compact(value)
    if len(digits) != 12 or not digits.isdigit() or digits[0] in "01":
        return False
    return len(set(digits)) > 2 and verhoeff_ok(digits)
