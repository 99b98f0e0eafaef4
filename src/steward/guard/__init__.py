"""Data-protection detection engine: PII, secrets, confidential data and prompt injection.

One hyperscan pass finds every candidate; validators (check digits, phonenumbers, ipaddress,
entropy, ...) and context words decide; overlaps are resolved. Actions, profiles and stream
handling build on ``Scanner.scan`` and ``Scanner.max_match_len``.
"""

from .config import CustomRegex, DetectorConfig
from .entities import (
    ALL_ENTITIES,
    CONFIDENTIAL_ENTITIES,
    INJECTION_ENTITIES,
    NER_ENTITIES,
    PII_ENTITIES,
    SECRET_ENTITIES,
)
from .evaluate import evaluate, format_table, load_jsonl
from .findings import Finding, GuardConfigError
from .fingerprints import DocumentMatch, FingerprintIndex, fingerprint
from .scanner import Scanner

__all__ = [
    "ALL_ENTITIES",
    "CONFIDENTIAL_ENTITIES",
    "INJECTION_ENTITIES",
    "NER_ENTITIES",
    "PII_ENTITIES",
    "SECRET_ENTITIES",
    "CustomRegex",
    "DetectorConfig",
    "DocumentMatch",
    "Finding",
    "FingerprintIndex",
    "GuardConfigError",
    "Scanner",
    "evaluate",
    "fingerprint",
    "format_table",
    "load_jsonl",
]
