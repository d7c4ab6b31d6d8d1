"""Password hashing and API key generation/verification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jirabridge.errors import PermissionDeniedError, ValidationError
from jirabridge.service.api_keys import (
    ApiKeyScope,
    generate_api_key,
    parse_api_key,
    parse_scopes,
    require_scope,
    verify_api_key,
)
from jirabridge.service.passwords import PasswordHasher

FAST = PasswordHasher(time_cost=1, memory_cost=1024)


def test_hash_verifies_and_is_salted() -> None:
    first = FAST.hash("correct horse battery")
    second = FAST.hash("correct horse battery")
    assert first != second
    assert first.startswith("$argon2id$")
    assert "correct horse" not in first
    assert FAST.verify(first, "correct horse battery")
    assert not FAST.verify(first, "correct horse batterY")


def test_bad_hash_is_false_not_an_exception() -> None:
    assert not FAST.verify("not-a-hash", "whatever password")


def test_short_and_huge_passwords_refused() -> None:
    with pytest.raises(ValidationError, match="at least"):
        FAST.hash("short")
    with pytest.raises(ValidationError, match="at most"):
        FAST.hash("x" * 2000)
    assert not FAST.verify(FAST.hash("long enough pw"), "x" * 2000)


def test_needs_rehash_when_parameters_change() -> None:
    stored = FAST.hash("long enough pw")
    assert not FAST.needs_rehash(stored)
    assert PasswordHasher(time_cost=2, memory_cost=1024).needs_rehash(stored)
    assert FAST.needs_rehash("garbage")


def test_api_key_round_trip() -> None:
    key = generate_api_key()
    assert key.plaintext.startswith(f"jb_{key.prefix}_")
    assert parse_api_key(key.plaintext) == key.prefix
    assert verify_api_key(key.plaintext, key.key_hash)
    assert key.plaintext not in repr(key)
    assert key.key_hash not in repr(key)


def test_api_keys_are_unique_and_hash_not_plaintext() -> None:
    keys = {generate_api_key().plaintext for _ in range(50)}
    assert len(keys) == 50
    key = generate_api_key()
    assert key.plaintext not in key.key_hash


@settings(max_examples=50)
@given(st.text(max_size=80))
def test_parse_refuses_anything_malformed(text: str) -> None:
    if text.startswith("jb_") and len(text.strip()) == 59:
        return
    with pytest.raises(ValidationError):
        parse_api_key(text)


def test_verify_refuses_tampered_key() -> None:
    key = generate_api_key()
    tampered = key.plaintext[:-1] + ("A" if key.plaintext[-1] != "A" else "B")
    assert not verify_api_key(tampered, key.key_hash)


def test_scopes() -> None:
    assert parse_scopes(["read", "write"]) == {ApiKeyScope.READ, ApiKeyScope.WRITE}
    with pytest.raises(ValidationError, match="unknown"):
        parse_scopes(["root"])
    with pytest.raises(ValidationError, match="at least one"):
        parse_scopes([])
    require_scope({ApiKeyScope.WRITE}, ApiKeyScope.READ)
    require_scope({ApiKeyScope.ADMIN}, ApiKeyScope.WRITE)
    with pytest.raises(PermissionDeniedError, match="write"):
        require_scope({ApiKeyScope.READ}, ApiKeyScope.WRITE)
    with pytest.raises(PermissionDeniedError, match="admin"):
        require_scope({ApiKeyScope.WRITE}, ApiKeyScope.ADMIN)
