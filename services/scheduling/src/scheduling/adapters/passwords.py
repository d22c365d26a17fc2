"""Argon2id password hashing, and the shipped list of common passwords the password policy refuses."""

from __future__ import annotations

import functools
from importlib import resources

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

# The most common passwords, one a line (its source and licence: common-passwords.LICENSE.txt beside it).
COMMON_PASSWORDS_FILE = "common-passwords.txt"


class Argon2PasswordHasher:
    def __init__(self, *, fast: bool = False) -> None:
        # The fast profile is for tests only; production uses argon2-cffi's RFC 9106 defaults.
        self._hasher = _Argon2(time_cost=1, memory_cost=1024, parallelism=1) if fast else _Argon2()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, read once per process (on first use, not at import)."""
    text = resources.files("scheduling.adapters").joinpath(COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)
