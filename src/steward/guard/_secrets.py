"""Secret patterns: cloud and SaaS credentials by their documented formats, keys, tokens."""

from __future__ import annotations

import re

from ._secret_checks import (
    char_classes,
    is_placeholder,
    jwt_ok,
    looks_random,
    password_ok,
    pem_block,
    pem_tail,
)
from ._spec import Refine, Spec, group_refine

SECRET = "secret"  # noqa: S105 - the data class name, not a credential
# PEM blocks are the one unbounded finding; streams hold back this much (see Scanner).
PEM_MAX_LEN = 512

_KEYWORDS = (
    r"(?:password|passwd|pwd|secret|token|api[_\-\s]?key|apikey|access[_\-]?key|auth[_\-]?key"
    r"|client[_\-]?secret|credentials?|bearer|private[_\-]?key|signing[_\-]?key)"
)
_TOKEN = re.compile(r"[A-Za-z0-9+/_\-.~]{20,}={0,2}")
# "private_key_id", "token_id", "secret_name": the keyword names something else.
_NOT_A_SECRET_SUFFIX = re.compile(r"[_\-\s]?(?:id|ids|name|names|type|count|length|limit|url)\b",
                                  re.I)


_SENTENCE_BREAK = re.compile(r"[.!?]\s|\n\s*\n")


def _same_clause(gap: str) -> bool:
    """The keyword labels the token: no sentence break and at most 3 words between them."""
    return _SENTENCE_BREAK.search(gap) is None and len(re.findall(r"[^\W\d_]{2,}", gap)) <= 3


def _keyword_token(distance: int, threshold: float) -> Refine:
    """Find the first random-looking token within ``distance`` chars after the keyword."""

    def refine(text: str, start: int, end: int) -> tuple[int, int] | None:
        kw = re.match(_KEYWORDS, text[start : start + 40], re.IGNORECASE)
        kw_end = start + (kw.end() if kw else 0)
        if _NOT_A_SECRET_SUFFIX.match(text, kw_end):
            return None
        for m in _TOKEN.finditer(text, kw_end, min(len(text), kw_end + distance + 256)):
            if m.start() > kw_end + distance or not _same_clause(text[kw_end : m.start()]):
                break
            value = m.group().strip(".-")
            if looks_random(value, threshold):
                offset = m.group().index(value)
                return m.start() + offset, m.start() + offset + len(value)
        return None

    return refine


def _gcp_key(text: str, start: int, end: int) -> tuple[int, int] | None:
    begin = text.find("-----BEGIN", start, end)
    return pem_block(text, begin, end) if begin >= 0 else None


_PASSWORD_VALUE = re.compile(r"(?:[:=]|\sis:?)\s*(?P<q>[\"']?)(?P<v>[^\s\"',;]{6,})", re.I)


def _password_value(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The password after ``password:``; an unquoted bare identifier is code, not a value."""
    m = _PASSWORD_VALUE.search(text, start, end)
    if m is None:
        return None
    value = m.group("v")
    if not m.group("q") and value.replace("_", "").replace(".", "").isalpha():
        return None
    return m.start("v"), m.end("v")


_ADO_SERVER = re.compile(r"(?:server|data\s+source|host|address|addr)\s*=", re.I)
_ADO_PASSWORD = re.compile(r";\s*(?:password|pwd)\s*=\s*(?P<v>[^;\s'\"]+)", re.I)


def _ado_password(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``Password=`` inside a ``Server=...;`` style connection string on the same line."""
    line_start = text.rfind("\n", max(0, start - 400), start) + 1
    if _ADO_SERVER.search(text, max(line_start, start - 400), start) is None:
        return None
    m = _ADO_PASSWORD.match(text, start, min(len(text), start + 160))
    return (m.start("v"), m.end("v")) if m else None


def _not_placeholder(value: str) -> bool:
    return not is_placeholder(value)


def _mixed(value: str) -> bool:
    return char_classes(value) >= 2


def secret_specs(distance: int, threshold: float) -> list[Spec]:
    """Every secret spec; ``distance`` and ``threshold`` tune the keyword-entropy detector."""
    b64_40 = r"(?P<v>(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+]))"
    pem_begin = r"-----BEGIN (?:[A-Z0-9]+ ){0,2}PRIVATE KEY(?: BLOCK)?-----"
    pem_end = r"-----END (?:[A-Z0-9]+ ){0,2}PRIVATE KEY(?: BLOCK)?-----"
    db_schemes = (
        r"(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver"
        r"|oracle|cockroachdb|clickhouse|snowflake|jdbc:[a-z]+)(?:\+[a-z0-9]+)?"
    )
    url_pw = r"://[^\s:/@'\"]*:(?P<v>[^\s/@'\"]+)@"
    return [
        Spec("AWS_ACCESS_KEY", SECRET, "aws",
             r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b", 0.95, max_len=20),
        Spec("AWS_SECRET_KEY", SECRET, "aws",
             r"(?:aws[ _\-]?secret(?:[ _\-]?access)?(?:[ _\-]?key)?|secret[ _\-]?access[ _\-]?key)"
             r"[\s\"':=]{1,8}(?:is\s)?[\s\"':=]{0,4}[A-Za-z0-9/+]{40}",
             0.95, refine=group_refine(b64_40, 0), check=_mixed, caseless=True, max_len=40),
        Spec("GCP_API_KEY", SECRET, "gcp", r"\bAIza[0-9A-Za-z_\-]{35}", 0.95, max_len=39,
             bounded=True),
        Spec("GCP_SERVICE_ACCOUNT_KEY", SECRET, "gcp",
             r"\"private_key\"\s*:\s*\"-----BEGIN PRIVATE KEY-----", 0.99, refine=_gcp_key,
             max_len=PEM_MAX_LEN),
        Spec("AZURE_STORAGE_KEY", SECRET, "azure", r"AccountKey=[A-Za-z0-9+/]{86}==",
             0.95, refine=group_refine(r"AccountKey=(?P<v>\S+)"), caseless=True, max_len=88),
        Spec("AZURE_SAS_TOKEN", SECRET, "azure", r"[?&]sig=[A-Za-z0-9%+/]{30,}",
             0.85, refine=group_refine(r"sig=(?P<v>[A-Za-z0-9%+/]+(?:%3D|=){0,2})"),
             max_len=128),
        Spec("GITHUB_TOKEN", SECRET, "github", r"\bgh[pousr]_[A-Za-z0-9]{36}\b", 0.95, max_len=40),
        Spec("GITHUB_TOKEN", SECRET, "github", r"\bgithub_pat_[A-Za-z0-9_]{82}\b", 0.95,
             max_len=93),
        Spec("GITLAB_TOKEN", SECRET, "gitlab", r"\bglpat-[A-Za-z0-9_\-]{20,}", 0.95,
             bounded=True, max_len=64),
        Spec("SLACK_TOKEN", SECRET, "slack", r"\bxox[baprse]-[0-9]+-[A-Za-z0-9\-]{8,}\b", 0.9,
             max_len=128),
        Spec("SLACK_WEBHOOK", SECRET, "slack",
             r"https://hooks\.slack\.com/(?:services|workflows)/T[A-Za-z0-9_/\-]{20,}\b", 0.95,
             max_len=160),
        Spec("STRIPE_KEY", SECRET, "stripe", r"\b(?:sk|rk)_live_[A-Za-z0-9]{20,}\b", 0.95,
             max_len=128),
        Spec("STRIPE_KEY", SECRET, "stripe", r"\b(?:sk|rk)_test_[A-Za-z0-9]{20,}\b", 0.8,
             max_len=128),
        Spec("STRIPE_KEY", SECRET, "stripe", r"\bpk_live_[A-Za-z0-9]{20,}\b", 0.6, max_len=128),
        Spec("OPENAI_API_KEY", SECRET, "openai", r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b",
             0.99, max_len=51),
        Spec("OPENAI_API_KEY", SECRET, "openai",
             r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}", 0.95, check=_mixed,
             bounded=True, max_len=256),
        Spec("OPENAI_API_KEY", SECRET, "openai", r"\bsk-[A-Za-z0-9]{32,}\b", 0.8, check=_mixed,
             max_len=128),
        Spec("ANTHROPIC_API_KEY", SECRET, "anthropic",
             r"\bsk-ant-(?:api|admin|sid|oat)[0-9]{2}-[A-Za-z0-9_\-]{32,}", 0.99, bounded=True,
             max_len=160),
        Spec("PRIVATE_KEY", SECRET, "pem", pem_begin, 0.98, refine=pem_block,
             max_len=PEM_MAX_LEN),
        Spec("PRIVATE_KEY", SECRET, "pem", pem_end, 0.9, refine=pem_tail, max_len=PEM_MAX_LEN),
        Spec("JWT", SECRET, "jwt",
             r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,}\b", 0.95,
             check=jwt_ok, max_len=2048),
        Spec("CONNECTION_STRING", SECRET, "connection_string",
             rf"\b{db_schemes}://[^\s:/@'\"]*:[^\s/@'\"]+@", 0.97,
             refine=group_refine(url_pw), check=_not_placeholder, caseless=True, max_len=128),
        Spec("CONNECTION_STRING", SECRET, "connection_string",
             r";\s*(?:password|pwd)\s*=\s*[^;\s'\"]", 0.95, refine=_ado_password,
             check=_not_placeholder, caseless=True, max_len=128),
        Spec("URL_CREDENTIALS", SECRET, "url_credentials",
             r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@'\"]+:[^\s/@'\"]+@[A-Za-z0-9\[]",
             0.95, refine=group_refine(url_pw), check=_not_placeholder, max_len=128),
        Spec("HIGH_ENTROPY_SECRET", SECRET, "entropy",
             _KEYWORDS, 0.85,
             refine=_keyword_token(distance, threshold), caseless=True, max_len=256),
        Spec("PASSWORD", SECRET, "password",
             r"\b(?:password|passwd|pwd|passphrase|passcode|passwort|kennwort|contraseña)[\"']?"
             r"\s*(?:[:=]|\sis:?)\s*[\"']?[^\s\"',;]{6,}",
             0.8, refine=_password_value, check=password_ok, caseless=True, max_len=128),
    ]
