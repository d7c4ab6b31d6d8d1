"""Password hashing for local accounts, with argon2id (argon2-cffi).

argon2-cffi picks salted argon2id parameters and encodes them in the hash, so a later change of
parameters is picked up by :meth:`PasswordHasher.needs_rehash` at the next login.
"""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from jirabridge.errors import ValidationError

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "PasswordHasher"]

MIN_PASSWORD_LENGTH = 10
#: argon2 hashes any length, but an unbounded password is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024


class PasswordHasher:
    """Hash and verify passwords. The default cost is argon2-cffi's recommended profile.

    ``time_cost``/``memory_cost`` may be lowered for tests; never in production.
    """

    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None) -> None:
        defaults = argon2.PasswordHasher()
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost or defaults.time_cost,
            memory_cost=memory_cost or defaults.memory_cost,
            parallelism=defaults.parallelism,
        )

    def __repr__(self) -> str:
        return "PasswordHasher()"

    @staticmethod
    def check_strength(password: str) -> None:
        """Raise :class:`ValidationError` when ``password`` is too short or too long."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError(
                f"the password must be at least {MIN_PASSWORD_LENGTH} characters long",
                details={"field": "password"},
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise ValidationError(
                f"the password must be at most {MAX_PASSWORD_LENGTH} characters long",
                details={"field": "password"},
            )

    def hash(self, password: str) -> str:
        """Check the password's length and return its argon2id hash."""
        self.check_strength(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when ``password`` matches ``stored_hash``; False on mismatch or a bad hash."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
