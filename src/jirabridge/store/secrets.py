"""Secrets at rest: tokens encrypted with MultiFernet and bound to the row that owns them.

Fernet has no associated data, so a ciphertext copied from one row into another would still
decrypt. To stop that, the plaintext is a small JSON envelope carrying the owner, the connection
and the purpose next to the secret; :meth:`SecretBox.decrypt` compares them with the binding the
caller expects and refuses a mismatch.

Keys never live in the database. They come from ``JIRABRIDGE_ENCRYPTION_KEYS`` (comma-separated,
newest first) or from a key file named by ``JIRABRIDGE_ENCRYPTION_KEY_FILE`` (one key a line, newest
first, ``#`` comments allowed). Rotation: put a new key first, run :meth:`SecretBox.rotate` over
every stored ciphertext (``jirabridge secrets rotate``), then drop the old key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from jirabridge.errors import ConfigError, SecretDecryptionError

__all__ = [
    "KEYS_ENV",
    "KEY_FILE_ENV",
    "SecretBinding",
    "SecretBox",
    "generate_key",
    "write_key_file",
]

KEYS_ENV = "JIRABRIDGE_ENCRYPTION_KEYS"
KEY_FILE_ENV = "JIRABRIDGE_ENCRYPTION_KEY_FILE"

_ENVELOPE_VERSION = 1


@dataclass(frozen=True, slots=True)
class SecretBinding:
    """Where a ciphertext belongs: checked on every decrypt.

    ``owner`` names the owning principal (e.g. ``"user:<id>"`` or ``"team:<id>"``),
    ``connection_id`` the row, and ``purpose`` the column (``"api_token"``,
    ``"oauth_refresh_token"`` ...).
    """

    owner: str
    connection_id: str
    purpose: str

    def __post_init__(self) -> None:
        for name in ("owner", "connection_id", "purpose"):
            if not getattr(self, name):
                raise ValueError(f"SecretBinding.{name} must not be empty")


def generate_key() -> str:
    """Return a new random Fernet key (url-safe base64 text)."""
    return Fernet.generate_key().decode("ascii")


def write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Write ``keys`` (newest first) to ``path`` readable by its owner only (mode 0600)."""
    for key in keys:
        _fernet(key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(
            "# Jirabridge secret keys, newest first. Keep this file out of backups of"
            " the database.\n"
        )
        handle.writelines(f"{key}\n" for key in keys)
    os.chmod(path, 0o600)


def _fernet(key: str | bytes) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError) as exc:
        # Say which position is wrong, never the key itself.
        raise ConfigError(
            "a secret key is not a valid Fernet key (32 url-safe base64-encoded bytes); "
            "generate one with `jirabridge secrets generate-key`"
        ) from exc


class SecretBox:
    """Encrypts and decrypts secrets bound to their owner, connection and purpose.

    The first key encrypts; every key may decrypt. Instances hold key material, so their
    ``repr`` shows only how many keys there are.
    """

    __slots__ = ("_fernets", "_multi")

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ConfigError(
                f"no secret keys configured: set {KEYS_ENV} or {KEY_FILE_ENV} "
                "(generate a key with `jirabridge secrets generate-key`)"
            )
        self._fernets = [_fernet(key) for key in keys]
        self._multi = MultiFernet(self._fernets)

    def __repr__(self) -> str:
        return f"SecretBox(keys={len(self._fernets)})"

    __str__ = __repr__

    @property
    def key_count(self) -> int:
        """How many keys are configured (the first one encrypts)."""
        return len(self._fernets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretBox:
        """Build from ``JIRABRIDGE_ENCRYPTION_KEYS`` or the file ``JIRABRIDGE_ENCRYPTION_KEY_FILE``.

        Raises :class:`ConfigError` when neither is set, or when both are (ambiguous).
        """
        env = os.environ if environ is None else environ
        key_file = env.get(KEY_FILE_ENV, "").strip()
        return cls.from_config(env.get(KEYS_ENV), Path(key_file) if key_file else None)

    @classmethod
    def from_config(cls, keys: str | None, key_file: Path | None) -> SecretBox:
        """Build from comma-separated ``keys`` (newest first) or a ``key_file``; one of them."""
        inline = (keys or "").strip()
        if inline and key_file is not None:
            raise ConfigError(f"set only one of {KEYS_ENV} and {KEY_FILE_ENV}, not both")
        if inline:
            return cls([part.strip() for part in inline.split(",") if part.strip()])
        if key_file is not None:
            return cls.from_file(key_file)
        return cls([])

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """Read keys (one a line, newest first, ``#`` comments) from ``path``."""
        try:
            text = path.read_text(encoding="ascii")
        except OSError as exc:
            raise ConfigError(f"cannot read the secret key file {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"the secret key file {path} is not ASCII text") from exc
        keys = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        return cls(keys)

    def with_new_key(self, key: str | bytes) -> SecretBox:
        """Return a box whose newest key is ``key``, keeping the current keys for decryption."""
        box = SecretBox([key])
        box._fernets = [*box._fernets, *self._fernets]
        box._multi = MultiFernet(box._fernets)
        return box

    def encrypt(self, secret: str, binding: SecretBinding) -> str:
        """Encrypt ``secret`` under the newest key, bound to ``binding``."""
        envelope = {
            "v": _ENVELOPE_VERSION,
            "o": binding.owner,
            "c": binding.connection_id,
            "p": binding.purpose,
            "s": secret,
        }
        payload = json.dumps(envelope, separators=(",", ":")).encode("utf-8")
        return self._multi.encrypt(payload).decode("ascii")

    def decrypt(self, token: str, binding: SecretBinding) -> str:
        """Decrypt ``token`` and check that it belongs to ``binding``.

        Raises :class:`SecretDecryptionError` when no key opens it, or when it was encrypted for
        another owner, connection or purpose.
        """
        envelope = self._open(token, binding)
        for field, expected in (
            ("o", binding.owner),
            ("c", binding.connection_id),
            ("p", binding.purpose),
        ):
            if envelope.get(field) != expected:
                raise SecretDecryptionError(
                    f"the stored {binding.purpose} of connection {binding.connection_id} "
                    "belongs to another row (ciphertext copied or swapped); refusing it",
                    details={"connection_id": binding.connection_id, "purpose": binding.purpose},
                )
        secret = envelope.get("s")
        if not isinstance(secret, str):
            raise SecretDecryptionError(
                f"the stored {binding.purpose} of connection {binding.connection_id} is malformed"
            )
        return secret

    def rotate(self, token: str, binding: SecretBinding) -> str:
        """Re-encrypt ``token`` under the newest key after checking its binding."""
        return self.encrypt(self.decrypt(token, binding), binding)

    def is_current(self, token: str) -> bool:
        """True when ``token`` is already encrypted under the newest key."""
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def _open(self, token: str, binding: SecretBinding) -> dict[str, object]:
        try:
            raw = self._multi.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise SecretDecryptionError(
                f"the stored {binding.purpose} of connection {binding.connection_id} cannot be "
                "decrypted by any configured key (was a key removed before rotation finished?)",
                details={"connection_id": binding.connection_id, "purpose": binding.purpose},
            ) from exc
        try:
            envelope = json.loads(raw)
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or envelope.get("v") != _ENVELOPE_VERSION:
            raise SecretDecryptionError(
                f"the stored {binding.purpose} of connection {binding.connection_id} is not a "
                "Jirabridge secret envelope"
            )
        return envelope
