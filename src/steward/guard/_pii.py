"""Personal-data patterns: e-mail, phone, card, IBAN, national identifiers, IP, date of birth."""

from __future__ import annotations

import re

from . import checksums as cs
from ._pii_checks import (
    bare_national,
    date_ok,
    email_ok,
    ipv4_ok,
    ipv6_ok,
    make_phone_check,
)
from ._spec import Spec, context

PII = "pii"

# Words that say a number is a reference of some business object, not personal data.
_REFERENCE_WORDS = (
    "order", "invoice", "tracking", "ref", "reference", "serial", "sku", "isbn", "ticket",
    "transaction", "txn", "confirmation", "booking", "shipment", "parcel", "receipt", "po",
    "version", "build", "part", "model", "batch", "lot", "case", "claim", "record id",
)
_PHONE_WORDS = (
    "phone", "tel", "telephone", "call", "mobile", "cell", "fax", "whatsapp", "sms", "text me",
    "reach me", "reach", "contact", "ring", "dial", "telefon", "teléfono", "telefono", "handy",
    "móvil", "movil", "portable", "tél", "mob", "landline", "hotline",
)
_DOB_WORDS = (
    r"(?:\bborn|date\sof\sbirth|birth\s?date|birthday|\bd\.?o\.?b\b\.?|geboren|geburtsdatum"
    r"|\bgeb\.|\bnée?\b|fecha\sde\snacimiento|nacid[oa]|date\sde\snaissance)"
)
# The date after a birth word, looked for by the refinement (in Python) so the hyperscan
# pattern stays a cheap keyword match.
_DOB_VALUE = (
    r"[^0-9\n]{0,30}?(?P<v>\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2})"
    r"|\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:of\s+|de\s+)?[^\W\d_]{3,10}\.?,?\s+(?:de\s+)?\d{4}"
    r"|[^\W\d_]{3,10}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})(?!\d)"
)


_DOB_RX = re.compile(_DOB_VALUE, re.IGNORECASE)


def _dob_value(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The date right after a birth word (within 30 non-digit characters)."""
    m = _DOB_RX.match(text, end, min(len(text), end + 80))
    return (m.start("v"), m.end("v")) if m else None


_URL_USERINFO = re.compile(r"://[^\s/@]*$")


def _not_url_userinfo(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``https://user:pass@host`` holds credentials, not an e-mail address."""
    return None if _URL_USERINFO.search(text, max(0, start - 128), start) else (start, end)


def pii_specs(phone_regions: tuple[str, ...]) -> list[Spec]:
    """Every personal-data spec; ``phone_regions`` are the hints for national-format numbers."""
    # NANP numbers validate across all +1 regions with one parse; trunk-0 numbers are never NANP.
    nanp = tuple(r for r in phone_regions if r in ("US", "CA"))[:1]
    phone_intl = make_phone_check(())
    phone_nanp = make_phone_check(nanp)
    phone_trunk = make_phone_check(tuple(r for r in phone_regions if r not in ("US", "CA")))
    # Bare numbers (no + and no trunk 0) only in regions where people write them that way.
    phone_bare = make_phone_check(tuple(r for r in phone_regions if bare_national(r)))
    phone_ctx = context(
        _PHONE_WORDS,
        _REFERENCE_WORDS + ("ssn", "iban", "nhs", "aadhaar", "steuer", "steuer-id", "tax", "id",
                            "idnr", "dni", "nie", "nino", "account", "card", "uid", "ts",
                            "timestamp", "epoch", "time", "created_at", "updated_at", "sku"),
    )
    card_ctx = context(
        ("card", "credit", "debit", "visa", "mastercard", "master card", "amex", "american express",
         "discover", "cc", "payment", "pay", "cvv", "cvc", "expiry", "exp", "pan", "kreditkarte",
         "tarjeta", "carte"),
        _REFERENCE_WORDS + ("phone", "tel", "id", "account"),
    )
    ssn_ctx = context(
        ("ssn", "social security", "social sec", "ss#", "ss no", "taxpayer"),
        _REFERENCE_WORDS + ("phone", "tel", "routing", "zip", "account", "id"),
    )
    ip_ctx = context(
        ("ip", "address", "host", "server", "client", "gateway", "dns", "subnet", "ping", "ssh",
         "connect", "from", "source", "remote", "login", "logged"),
        ("version", "ver", "v", "release", "build", "rev", "revision", "firmware", "sdk",
         "update", "upgrade", "patch", "oid", "snmp", "mib", "python", "node", "release"),
    )
    national_damp = _REFERENCE_WORDS + ("phone", "tel", "call", "card")
    sep = r"[ .\-]?"
    return [
        Spec("EMAIL_ADDRESS", PII, "email",
             r"[A-Za-z0-9\x{C0}-\x{24F}][A-Za-z0-9\x{C0}-\x{24F}._%+\-]*@"
             r"[A-Za-z0-9\x{C0}-\x{24F}](?:[A-Za-z0-9\x{C0}-\x{24F}\-]*[A-Za-z0-9\x{C0}-\x{24F}])?"
             r"(?:\.[A-Za-z0-9\x{C0}-\x{24F}](?:[A-Za-z0-9\x{C0}-\x{24F}\-]*"
             r"[A-Za-z0-9\x{C0}-\x{24F}])?)*\.[A-Za-z]{2,24}\b",
             0.9, check=email_ok, refine=_not_url_userinfo, max_len=254),
        # International numbers with + or 00, NANP formats, trunk-0 national formats.
        Spec("PHONE_NUMBER", PII, "phone",
             rf"\+[1-9][0-9]{{0,2}}{sep}(?:\(0?[0-9]{{1,4}}\){sep})?[0-9]{{1,5}}"
             rf"(?:{sep}[0-9]{{1,5}}){{1,5}}\b",
             0.7, check=phone_intl, context=phone_ctx, bounded=True, tries=4, max_len=32),
        Spec("PHONE_NUMBER", PII, "phone",
             rf"\b00[1-9][0-9]{{0,2}}(?:{sep}[0-9]{{1,5}}){{2,6}}\b",
             0.65, check=phone_intl, context=phone_ctx, bounded=True, tries=4, max_len=32),
        Spec("PHONE_NUMBER", PII, "phone",
             rf"(?:\b1{sep})?(?:\([2-9][0-9]{{2}}\){sep}|\b[2-9][0-9]{{2}}[ .\-])"
             r"[2-9][0-9]{2}[ .\-][0-9]{4}\b",
             0.7, check=phone_nanp, context=phone_ctx, bounded=True, tries=2, max_len=20),
        Spec("PHONE_NUMBER", PII, "phone",
             r"(?:\(0[1-9][0-9]{0,4}\)|\b0[1-9][0-9]{0,4})(?:[ .\-/]?[0-9]{2,6}){1,4}\b",
             0.6, check=phone_trunk, context=phone_ctx, bounded=True, tries=3, max_len=24),
        # Bare national numbers are too ambiguous on their own: only with a phone word nearby.
        Spec("PHONE_NUMBER", PII, "phone",
             rf"\b[1-9][0-9]{{2,4}}(?:{sep}[0-9]{{2,4}}){{1,3}}\b",
             0.35, check=phone_bare, context=phone_ctx, bounded=True, tries=2, max_len=20),
        Spec("CREDIT_CARD", PII, "card", r"\b[0-9](?:[ \-]?[0-9]){12,18}\b",
             0.85, check=cs.credit_card_ok, context=card_ctx, bounded=True, tries=2, max_len=23),
        Spec("IBAN", PII, "iban", r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b",
             0.95, check=cs.iban_ok, bounded=True, tries=4, max_len=42),
        Spec("US_SSN", PII, "ssn", r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b|\b[0-9]{3} [0-9]{2} [0-9]{4}\b",
             0.65, check=cs.us_ssn_ok, context=ssn_ctx, bounded=True, max_len=11),
        Spec("US_SSN", PII, "ssn", r"\b[0-9]{9}\b",
             0.3, check=cs.us_ssn_ok, context=ssn_ctx, bounded=True, max_len=9),
        Spec("IP_ADDRESS", PII, "ipv4", r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b",
             0.75, check=ipv4_ok, context=ip_ctx, bounded=True, max_len=15),
        Spec("IP_ADDRESS", PII, "ipv6", r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}",
             0.75, check=ipv6_ok, context=ip_ctx, bounded=True, tries=3, max_len=39),
        Spec("DATE_OF_BIRTH", PII, "dob", _DOB_WORDS,
             0.85, check=date_ok, refine=_dob_value, caseless=True, max_len=80),
        Spec("UK_NINO", PII, "uk_nino",
             r"\b[A-CEGHJ-PR-TW-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b",
             0.8, check=cs.uk_nino_ok, bounded=True, max_len=13,
             context=context(("national insurance", "ni number", "ni no", "nino", "hmrc"))),
        Spec("UK_NHS", PII, "uk_nhs", r"\b[0-9]{3}[ \-]?[0-9]{3}[ \-]?[0-9]{4}\b",
             0.4, check=cs.uk_nhs_ok, bounded=True, max_len=12,
             context=context(("nhs", "health", "patient", "hospital", "gp", "medical"),
                             national_damp, boost_by=0.45)),
        Spec("DE_TAX_ID", PII, "de_tax_id", r"\b[1-9][0-9](?: ?[0-9]{3}){3}\b",
             0.6, check=cs.de_tax_id_ok, bounded=True, max_len=14,
             context=context(("steuer", "steuer-id", "steuerid", "steueridentifikationsnummer",
                              "identifikationsnummer", "idnr", "tax id", "tax identification",
                              "tin", "steuernummer"), national_damp)),
        Spec("ES_DNI", PII, "es_dni", r"\b[0-9]{8}[ \-]?[A-Za-z]\b",
             0.85, check=cs.es_dni_ok, bounded=True, max_len=10,
             context=context(("dni", "nif", "documento", "identidad"), _REFERENCE_WORDS)),
        Spec("ES_NIE", PII, "es_nie", r"\b[XYZxyz][ \-]?[0-9]{7}[ \-]?[A-Za-z]\b",
             0.85, check=cs.es_nie_ok, bounded=True, max_len=11,
             context=context(("nie", "extranjero", "residencia"), _REFERENCE_WORDS)),
        Spec("IN_AADHAAR", PII, "in_aadhaar", r"\b[2-9][0-9]{3}[ \-]?[0-9]{4}[ \-]?[0-9]{4}\b",
             0.65, check=cs.in_aadhaar_ok, bounded=True, max_len=14,
             context=context(("aadhaar", "aadhar", "uid", "uidai"), national_damp)),
    ]
