"""API keys for the REST API: generated once, shown once, stored as a hash.

A key reads ``jb_<prefix>_<secret>``. The prefix (12 characters) is stored in clear and finds
the row; the whole key is stored as SHA-256, which is enough for 256 random bits (a slow hash
buys nothing against a key nobody can guess, and would slow every API call). Comparison is in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum

from jirabridge.errors import PermissionDeniedError, ValidationError

__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyScope",
    "NewApiKey",
    "generate_api_key",
    "hash_api_key",
    "parse_api_key",
    "parse_scopes",
    "require_scope",
    "verify_api_key",
]

API_KEY_PREFIX = "jb"
_KEY_RE = re.compile(r"^jb_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")
_ALPHANUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class ApiKeyScope(StrEnum):
    """What a key may do. ``write`` includes ``read``; ``admin`` includes both."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_IMPLIES: dict[ApiKeyScope, frozenset[ApiKeyScope]] = {
    ApiKeyScope.READ: frozenset({ApiKeyScope.READ}),
    ApiKeyScope.WRITE: frozenset({ApiKeyScope.READ, ApiKeyScope.WRITE}),
    ApiKeyScope.ADMIN: frozenset(ApiKeyScope),
}


@dataclass(frozen=True)
class NewApiKey:
    """A freshly generated key. ``plaintext`` is shown to the user once and never stored."""

    prefix: str
    plaintext: str = field(repr=False)
    key_hash: str = field(repr=False)


def hash_api_key(plaintext: str) -> str:
    """SHA-256 hex digest of a whole key."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_api_key() -> NewApiKey:
    """Make a new random key with its lookup prefix and hash."""
    prefix = "".join(secrets.choice(_ALPHANUM) for _ in range(12))
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(prefix=prefix, plaintext=plaintext, key_hash=hash_api_key(plaintext))


def parse_api_key(text: str) -> str:
    """Return the lookup prefix of a presented key, or raise :class:`ValidationError`."""
    match = _KEY_RE.match(text.strip())
    if match is None:
        raise ValidationError("malformed API key (expected jb_<prefix>_<secret>)")
    return match.group(1)


def verify_api_key(plaintext: str, stored_hash: str) -> bool:
    """Constant-time check of a presented key against the stored hash."""
    return hmac.compare_digest(hash_api_key(plaintext.strip()), stored_hash)


def parse_scopes(values: Collection[str]) -> frozenset[ApiKeyScope]:
    """Turn scope names into :class:`ApiKeyScope` values; unknown names are a ValidationError."""
    if not values:
        raise ValidationError("an API key needs at least one scope (read, write or admin)")
    try:
        return frozenset(ApiKeyScope(value) for value in values)
    except ValueError as exc:
        known = ", ".join(scope.value for scope in ApiKeyScope)
        raise ValidationError(f"unknown API key scope; known scopes: {known}") from exc


def require_scope(granted: Collection[ApiKeyScope], needed: ApiKeyScope) -> None:
    """Raise :class:`PermissionDeniedError` unless ``granted`` covers ``needed``."""
    if not any(needed in _IMPLIES[scope] for scope in granted):
        raise PermissionDeniedError(f"this API key lacks the '{needed.value}' scope")
