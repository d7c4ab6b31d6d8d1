"""SecretBox: envelope binding, key loading, rotation, no secret in reprs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jirabridge.errors import ConfigError, SecretDecryptionError
from jirabridge.store.secrets import (
    KEY_FILE_ENV,
    KEYS_ENV,
    SecretBinding,
    SecretBox,
    generate_key,
    write_key_file,
)

KEY_A = generate_key()
KEY_B = generate_key()
BINDING = SecretBinding(owner="user:1", connection_id="conn-1", purpose="api_token")

ids = st.text(min_size=1, max_size=40)


@settings(max_examples=40)
@given(secret=st.text(max_size=500), owner=ids, conn=ids, purpose=ids)
def test_round_trip_any_secret(secret: str, owner: str, conn: str, purpose: str) -> None:
    box = SecretBox([KEY_A])
    binding = SecretBinding(owner, conn, purpose)
    token = box.encrypt(secret, binding)
    assert box.decrypt(token, binding) == secret


@settings(max_examples=40)
@given(
    secret=st.text(min_size=1, max_size=100),
    a=st.tuples(ids, ids, ids),
    b=st.tuples(ids, ids, ids),
)
def test_ciphertext_refused_under_any_other_binding(
    secret: str, a: tuple[str, str, str], b: tuple[str, str, str]
) -> None:
    box = SecretBox([KEY_A])
    token = box.encrypt(secret, SecretBinding(*a))
    if a == b:
        assert box.decrypt(token, SecretBinding(*b)) == secret
    else:
        with pytest.raises(SecretDecryptionError, match="another row"):
            box.decrypt(token, SecretBinding(*b))


@settings(max_examples=40)
@given(
    # A space in the middle: a secret made only of base64 letters could occur in any ciphertext
    # by chance, whereas a space never can.
    secret=st.builds(
        lambda a, b: f"{a} {b}",
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=4),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=4),
    )
)
def test_ciphertext_does_not_contain_the_secret(secret: str) -> None:
    token = SecretBox([KEY_A]).encrypt(secret, BINDING)
    assert secret not in token


def test_swapped_ciphertext_names_the_row_not_the_secret() -> None:
    box = SecretBox([KEY_A])
    token = box.encrypt("tok-alice", SecretBinding("user:alice", "c1", "api_token"))
    with pytest.raises(SecretDecryptionError) as info:
        box.decrypt(token, SecretBinding("user:bob", "c2", "api_token"))
    assert "tok-alice" not in str(info.value)
    assert token not in str(info.value)
    assert "c2" in str(info.value)


def test_purpose_is_bound_too() -> None:
    box = SecretBox([KEY_A])
    token = box.encrypt("refresh", SecretBinding("user:1", "c1", "oauth_refresh_token"))
    with pytest.raises(SecretDecryptionError):
        box.decrypt(token, SecretBinding("user:1", "c1", "oauth_access_token"))


def test_unknown_key_refused_clearly() -> None:
    token = SecretBox([KEY_A]).encrypt("s", BINDING)
    with pytest.raises(SecretDecryptionError, match="cannot be decrypted by any configured key"):
        SecretBox([KEY_B]).decrypt(token, BINDING)


def test_garbage_token_refused() -> None:
    with pytest.raises(SecretDecryptionError):
        SecretBox([KEY_A]).decrypt("not-a-token-é", BINDING)


def test_foreign_fernet_plaintext_refused() -> None:
    from cryptography.fernet import Fernet

    raw = Fernet(KEY_A).encrypt(b"plain secret, no envelope").decode()
    with pytest.raises(SecretDecryptionError, match="envelope"):
        SecretBox([KEY_A]).decrypt(raw, BINDING)


def test_rotation_moves_to_newest_key_and_keeps_value() -> None:
    old = SecretBox([KEY_A])
    token = old.encrypt("s3cret", BINDING)
    both = old.with_new_key(KEY_B)
    assert both.key_count == 2
    assert not both.is_current(token)
    rotated = both.rotate(token, BINDING)
    assert both.is_current(rotated)
    # After dropping the old key, only the rotated token still opens.
    new_only = SecretBox([KEY_B])
    assert new_only.decrypt(rotated, BINDING) == "s3cret"
    with pytest.raises(SecretDecryptionError):
        new_only.decrypt(token, BINDING)


def test_rotation_checks_binding() -> None:
    box = SecretBox([KEY_B, KEY_A])
    token = SecretBox([KEY_A]).encrypt("x", BINDING)
    with pytest.raises(SecretDecryptionError):
        box.rotate(token, SecretBinding("user:2", "conn-1", "api_token"))


def test_repr_and_str_hold_no_key() -> None:
    box = SecretBox([KEY_A, KEY_B])
    for text in (repr(box), str(box)):
        assert KEY_A not in text
        assert KEY_B not in text
        assert "keys=2" in text


def test_no_keys_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=KEYS_ENV):
        SecretBox.from_env({})


def test_bad_key_is_a_config_error_without_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        SecretBox(["not-a-fernet-key"])
    assert "not-a-fernet-key" not in str(info.value)


def test_keys_from_env_newest_first() -> None:
    token = SecretBox([KEY_A]).encrypt("v", BINDING)
    box = SecretBox.from_env({KEYS_ENV: f" {KEY_B} , {KEY_A} "})
    assert box.key_count == 2
    assert box.decrypt(token, BINDING) == "v"
    assert box.is_current(box.encrypt("v", BINDING))
    assert SecretBox([KEY_B]).decrypt(box.encrypt("w", BINDING), BINDING) == "w"


def test_keys_from_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    write_key_file(path, [KEY_B, KEY_A])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    box = SecretBox.from_env({KEY_FILE_ENV: str(path)})
    assert box.key_count == 2
    assert SecretBox([KEY_B]).decrypt(box.encrypt("z", BINDING), BINDING) == "z"


def test_missing_key_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        SecretBox.from_env({KEY_FILE_ENV: str(tmp_path / "absent")})


def test_both_sources_is_ambiguous(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only one"):
        SecretBox.from_env({KEYS_ENV: KEY_A, KEY_FILE_ENV: str(tmp_path / "k")})


def test_empty_binding_rejected() -> None:
    with pytest.raises(ValueError, match="owner"):
        SecretBinding("", "c", "p")
