"""Key material: generation and hashing. Only hashes are stored; plaintext is shown once."""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "sk-stw-"
ADMIN_KEY_PREFIX = "sk-stw-adm-"
_ENTROPY_BYTES = 32
_DISPLAY_CHARS = 8


def hash_key(key: str) -> str:
    """SHA-256 hex of a key. Keys carry 256 bits of entropy, so a fast hash is the right choice:
    a slow KDF adds nothing against brute force and costs latency on every request."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str, prefix: str = API_KEY_PREFIX) -> str:
    """The short, non-secret form of a key shown in listings, e.g. `sk-stw-AbCdEfGh…`."""
    body = key[len(prefix) :] if key.startswith(prefix) else key
    return f"{prefix}{body[:_DISPLAY_CHARS]}…"


def generate_key(prefix: str = API_KEY_PREFIX) -> tuple[str, str, str]:
    """A new key: (plaintext, sha256 hex, display prefix). The plaintext must be shown once and
    then forgotten."""
    plaintext = prefix + secrets.token_urlsafe(_ENTROPY_BYTES)
    return plaintext, hash_key(plaintext), display_prefix(plaintext, prefix)


__all__ = ["ADMIN_KEY_PREFIX", "API_KEY_PREFIX", "display_prefix", "generate_key", "hash_key"]
