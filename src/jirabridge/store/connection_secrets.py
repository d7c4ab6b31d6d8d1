"""Encrypting and decrypting the secrets of a Jira connection row.

Each secret column is bound to the row's owner, its id and the column's purpose, so moving a
ciphertext to another row or column makes it undecryptable
(:class:`~jirabridge.errors.SecretDecryptionError`). Decryption happens only here, one row at
a time, when a caller needs the credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from jirabridge.errors import SecretDecryptionError
from jirabridge.store.account_models import JiraConnectionRow, OAuthPendingGrantRow
from jirabridge.store.secrets import SecretBinding, SecretBox

__all__ = [
    "PURPOSE_OAUTH_ACCESS",
    "PURPOSE_OAUTH_REFRESH",
    "PURPOSE_PENDING_GRANT",
    "PURPOSE_SECRET",
    "ConnectionSecrets",
    "OAuthTokens",
]

PURPOSE_SECRET = "secret"  # noqa: S105 - a purpose label
PURPOSE_OAUTH_ACCESS = "oauth_access_token"
PURPOSE_OAUTH_REFRESH = "oauth_refresh_token"
PURPOSE_PENDING_GRANT = "oauth_pending_grant"

_COLUMNS = (
    ("secret_ciphertext", PURPOSE_SECRET),
    ("oauth_access_ciphertext", PURPOSE_OAUTH_ACCESS),
    ("oauth_refresh_ciphertext", PURPOSE_OAUTH_REFRESH),
)


@dataclass(frozen=True)
class OAuthTokens:
    """The decrypted OAuth tokens of a connection."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    version: int


def _binding(row: JiraConnectionRow, purpose: str) -> SecretBinding:
    return SecretBinding(owner=row.owner_ref, connection_id=row.id, purpose=purpose)


class ConnectionSecrets:
    """Reads and writes the encrypted columns of :class:`JiraConnectionRow`."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box

    def __repr__(self) -> str:
        return f"ConnectionSecrets({self.box!r})"

    def set_secret(self, row: JiraConnectionRow, secret: str) -> None:
        """Store the API token, PAT or password of a non-OAuth connection."""
        row.secret_ciphertext = self.box.encrypt(secret, _binding(row, PURPOSE_SECRET))

    def secret(self, row: JiraConnectionRow) -> str:
        """The API token, PAT or password of a non-OAuth connection."""
        if row.secret_ciphertext is None:
            raise SecretDecryptionError(f"connection {row.id} has no stored secret")
        return self.box.decrypt(row.secret_ciphertext, _binding(row, PURPOSE_SECRET))

    def set_oauth(
        self, row: JiraConnectionRow, *, access_token: str, refresh_token: str, expires_at: datetime
    ) -> None:
        """Store a new OAuth token pair and bump ``token_version``."""
        row.oauth_access_ciphertext = self.box.encrypt(
            access_token, _binding(row, PURPOSE_OAUTH_ACCESS)
        )
        row.oauth_refresh_ciphertext = self.box.encrypt(
            refresh_token, _binding(row, PURPOSE_OAUTH_REFRESH)
        )
        row.oauth_expires_at = expires_at
        row.token_version = (row.token_version or 0) + 1

    def oauth(self, row: JiraConnectionRow) -> OAuthTokens:
        """The OAuth tokens of a connection."""
        if (
            row.oauth_access_ciphertext is None
            or row.oauth_refresh_ciphertext is None
            or row.oauth_expires_at is None
        ):
            raise SecretDecryptionError(f"connection {row.id} holds no OAuth tokens")
        return OAuthTokens(
            access_token=self.box.decrypt(
                row.oauth_access_ciphertext, _binding(row, PURPOSE_OAUTH_ACCESS)
            ),
            refresh_token=self.box.decrypt(
                row.oauth_refresh_ciphertext, _binding(row, PURPOSE_OAUTH_REFRESH)
            ),
            expires_at=row.oauth_expires_at,
            version=row.token_version,
        )

    def clear(self, row: JiraConnectionRow) -> None:
        """Forget every secret of the row (disconnect)."""
        row.secret_ciphertext = None
        row.oauth_access_ciphertext = None
        row.oauth_refresh_ciphertext = None
        row.oauth_expires_at = None

    def rotate(self, row: JiraConnectionRow) -> int:
        """Re-encrypt every secret of the row under the newest key; returns how many."""
        rotated = 0
        for column, purpose in _COLUMNS:
            token = getattr(row, column)
            if token is not None and not self.box.is_current(token):
                setattr(row, column, self.box.rotate(token, _binding(row, purpose)))
                rotated += 1
            elif token is not None:
                # Still check the binding, so a rotation run also finds swapped ciphertexts.
                self.box.decrypt(token, _binding(row, purpose))
        return rotated

    def seal_pending(self, row: OAuthPendingGrantRow, payload: str) -> None:
        """Encrypt the token payload of a pending grant, bound to that row."""
        row.token_ciphertext = self.box.encrypt(payload, self._pending_binding(row))

    def open_pending(self, row: OAuthPendingGrantRow) -> str:
        """Decrypt the token payload of a pending grant."""
        return self.box.decrypt(row.token_ciphertext, self._pending_binding(row))

    @staticmethod
    def _pending_binding(row: OAuthPendingGrantRow) -> SecretBinding:
        return SecretBinding(
            owner=f"user:{row.user_id}",
            connection_id=f"pending:{row.id}",
            purpose=PURPOSE_PENDING_GRANT,
        )
