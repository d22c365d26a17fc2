"""What makes a new password too easy to guess: sign-up, staff accounts and password resets all ask this.

A password must be at least ``MIN_LENGTH`` characters long, and it must not be, give or take case, spaces,
punctuation and digits around it:

- the account's e-mail address or the part before the ``@``;
- one of the most common passwords (a shipped list of about 20,000, compared in lower case), or such a
  password repeated;
- a handful of characters repeated or a straight run (``aaaaaaaaaaaa``, ``abababababab``, ``abcdefghijk``).

Every refusal is a sentence a patient understands, naming the ``password`` field.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from scheduling.domain.errors import RuleViolation

MIN_LENGTH = 10
# Fewer different characters than this (once case, spaces and punctuation are set aside) is too little.
MIN_DISTINCT_CHARACTERS = 5

TOO_SHORT = f"Your password must be at least {MIN_LENGTH} characters long."
LIKE_EMAIL = (
    "Your password must not be your e-mail address or the part before the @. Choose something others "
    "could not guess, such as a few unrelated words."
)
TOO_SIMPLE = (
    "Your password repeats too few different characters (like aaaaaaaaaa or abcabcabca). Choose one with "
    "more variety, such as a few unrelated words."
)
TOO_COMMON = (
    "This password is one of the most commonly used ones, so it is easy to guess. Choose another, such as "
    "a few unrelated words."
)

_SEPARATORS = re.compile(r"[\W_]+")
_DIGITS = "0123456789"


class PasswordPolicy:
    """Refuses new passwords that are too short, too simple, too common, or the account's own address."""

    def __init__(self, common_passwords: Iterable[str]) -> None:
        self._common = frozenset(p.casefold() for p in common_passwords if p)

    def check(self, password: str, email: str) -> None:
        """Raise ``RuleViolation`` on the ``password`` field when the password must not be used."""
        reason = self.refusal(password, email)
        if reason is not None:
            raise RuleViolation(reason, field="password")

    def refusal(self, password: str, email: str) -> str | None:
        """Why this password is refused for the account of ``email``, or None when it may be used."""
        if len(password) < MIN_LENGTH:
            return TOO_SHORT
        folded = password.casefold()
        core = _SEPARATORS.sub("", folded)
        if _is_like_email(folded, core, email):
            return LIKE_EMAIL
        if _too_simple(core):
            return TOO_SIMPLE
        if any(form in self._common for form in _forms(folded, core)):
            return TOO_COMMON
        return None


def _forms(folded: str, core: str) -> Iterator[str]:
    """The password as typed, without separators, without digits around it, and one unit of a repetition."""
    yield folded
    yield core
    trimmed = core.strip(_DIGITS)
    if trimmed:
        yield trimmed
        unit = _repeated_unit(trimmed)
        if unit is not None:
            yield unit


def _is_like_email(folded: str, core: str, email: str) -> bool:
    address = email.strip().casefold()
    local = address.partition("@")[0]
    if folded in (address, local):
        return True
    forms = {_SEPARATORS.sub("", address), _SEPARATORS.sub("", local)} - {""}
    return core in forms or core.strip(_DIGITS) in forms


def _too_simple(core: str) -> bool:
    if len(set(core)) < MIN_DISTINCT_CHARACTERS:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(core)}
    return steps in ({1}, {-1})


def _repeated_unit(text: str) -> str | None:
    """The shortest string that ``text`` is two or more copies of, if it is one."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return None
