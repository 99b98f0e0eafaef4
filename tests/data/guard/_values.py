"""Value generators for the evaluation set, with check digits computed independently of
steward.guard (so the set does not just mirror the detector's own code)."""

from __future__ import annotations

import base64
import json
import random
import string

import phonenumbers

B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
ALNUM = string.ascii_letters + string.digits


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def token(rng: random.Random, alphabet: str, n: int) -> str:
    """A random token with at least one digit, one lower and one upper letter."""
    while True:
        t = rand(rng, alphabet, n)
        if (
            any(c.isdigit() for c in t)
            and any(c.islower() for c in t)
            and any(c.isupper() for c in t)
        ):
            return t


def luhn_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


def card(rng: random.Random) -> str:
    prefix, length = rng.choice(
        [
            ("4", 16),
            ("4", 16),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("2720", 16),
            ("34", 15),
            ("37", 15),
            ("6011", 16),
            ("65", 16),
            ("3528", 16),
        ]
    )
    body = prefix + rand(rng, string.digits, length - len(prefix) - 1)
    number = body + luhn_digit(body)
    style = rng.choice(["space", "dash", "none", "space"])
    if style == "none":
        return number
    sep = " " if style == "space" else "-"
    groups = [4, 6, 5] if length == 15 else [4, 4, 4, 4]
    out, i = [], 0
    for g in groups:
        out.append(number[i : i + g])
        i += g
    return sep.join(out)


def iban(rng: random.Random) -> str:
    country, bban_len = rng.choice(
        [
            ("DE", 18),
            ("GB", 18),
            ("FR", 23),
            ("ES", 20),
            ("NL", 14),
            ("IT", 23),
            ("BE", 12),
            ("CH", 17),
        ]
    )
    if country == "GB":
        bban = rand(rng, string.ascii_uppercase, 4) + rand(rng, string.digits, 14)
    elif country == "NL":
        bban = rand(rng, string.ascii_uppercase, 4) + rand(rng, string.digits, 10)
    elif country == "IT":
        bban = rng.choice(string.ascii_uppercase) + rand(rng, string.digits, 22)
    else:
        bban = rand(rng, string.digits, bban_len)
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    value = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def ssn_valid(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def nino(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if prefix not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
            break
    digits = rand(rng, string.digits, 6)
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{prefix}{digits}{suffix}"


def nhs(rng: random.Random) -> str:
    while True:
        body = rand(rng, string.digits, 9)
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            n = body + str(check)
            return f"{n[:3]} {n[3:6]} {n[6:]}" if rng.random() < 0.7 else n


def steuer_id(rng: random.Random) -> str:
    while True:
        digits = rng.sample(string.digits, 9)
        digits.append(rng.choice(digits))
        rng.shuffle(digits)
        if digits[0] != "0":
            break
    product = 10
    for d in digits:
        s = (int(d) + product) % 10
        s = 10 if s == 0 else s
        product = (s * 2) % 11
    check = 11 - product
    check = 0 if check == 10 else check
    n = "".join(digits) + str(check)
    return f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}" if rng.random() < 0.4 else n


_DNI = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni(rng: random.Random) -> str:
    n = rng.randint(10_000_000, 99_999_999)
    return f"{n}{_DNI[n % 23]}" if rng.random() < 0.7 else f"{n}-{_DNI[n % 23]}"


def nie(rng: random.Random) -> str:
    lead = rng.choice("XYZ")
    n = rng.randint(0, 9_999_999)
    return f"{lead}{n:07d}{_DNI[int(str('XYZ'.index(lead)) + f'{n:07d}') % 23]}"


_VD = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VP = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
_VINV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def aadhaar(rng: random.Random) -> str:
    body = str(rng.randint(2, 9)) + rand(rng, string.digits, 10)
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = _VD[c][_VP[(i + 1) % 8][int(ch)]]
    n = body + str(_VINV[c])
    return f"{n[:4]} {n[4:8]} {n[8:]}" if rng.random() < 0.7 else n


_PHONE_PLANS = {
    "US": [("2", 10)],
    "GB": [("7", 10), ("20", 10)],
    "DE": [("15", 11), ("30", 10)],
    "FR": [("6", 9), ("1", 9)],
    "ES": [("6", 9), ("9", 9)],
    "IN": [("9", 10), ("8", 10)],
}


def phone(rng: random.Random) -> tuple[str, str]:
    """A valid number (checked with phonenumbers, the reference library) and its region."""
    region = rng.choice(list(_PHONE_PLANS))
    prefix, length = rng.choice(_PHONE_PLANS[region])
    while True:
        if region == "US":
            nsn = f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        else:
            nsn = prefix + rand(rng, string.digits, length - len(prefix))
        num = phonenumbers.parse(f"+{phonenumbers.country_code_for_region(region)}{nsn}")
        if phonenumbers.is_valid_number(num):
            break
    fmt = rng.choice(["intl", "intl", "national", "e164"])
    if fmt == "intl":
        text = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    elif fmt == "e164":
        text = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    else:
        text = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
        if region == "US" and rng.random() < 0.5:
            text = f"{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}"
    return text, region


def jwt(rng: random.Random, name: str) -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {
        "sub": str(rng.randint(1000, 99999)),
        "name": name,
        "iat": 1700000000 + rng.randint(0, 10**7),
    }
    return f"{enc(header)}.{enc(payload)}.{rand(rng, B64URL, 43)}"


def pem(rng: random.Random, kind: str, escaped: bool = False) -> str:
    nl = "\\n" if escaped else "\n"
    body = nl.join(rand(rng, B64, 64) for _ in range(rng.randint(8, 14)))
    return f"-----BEGIN {kind}PRIVATE KEY-----{nl}{body}{nl}-----END {kind}PRIVATE KEY-----"
