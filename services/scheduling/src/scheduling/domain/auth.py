"""Staying signed in and getting back in: refresh tokens and password-reset links.

Both are opaque random strings shown once; only their SHA-256 digest is stored, so a copy of the database
opens no session and resets no password.

A refresh token belongs to a family: the one issued at sign-in and each of its successors. Redeeming a
token uses it up and issues its successor in the same family, valid ``REFRESH_TOKEN_TTL_DAYS`` from then
(a session lasts while it is used at least that often). A token presented a second time means two parties
hold the family (one of them copied it), so the whole family is revoked and both must sign in again; two
refreshes of one token racing each other count as such a reuse. Signing out revokes the family; a
password reset revokes every family of the account.

A reset link works once, for ``RESET_LINK_TTL``, and only while it is the account's newest: asking again
makes the older links stop working.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.domain.calendar import token_digest

RESET_LINK_TTL = timedelta(minutes=30)
# The same words for every way a reset link fails, so the answer says nothing about the account.
RESET_LINK_INVALID = "This link has expired or was already used"
# The same words for every way a refresh fails (unknown, expired, used, revoked, account disabled).
REFRESH_INVALID = "the refresh token is not valid; sign in again"


class Redemption(enum.Enum):
    """What presenting a refresh token amounts to."""

    VALID = "valid"
    # Already used once: someone else holds a copy. The family is revoked.
    REUSED = "reused"
    # Revoked or expired.
    INVALID = "invalid"


@dataclass
class RefreshToken:
    id: uuid.UUID
    family_id: uuid.UUID
    account_id: uuid.UUID
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        *,
        token_id: uuid.UUID,
        family_id: uuid.UUID,
        account_id: uuid.UUID,
        token: str,
        now: datetime,
        ttl: timedelta,
    ) -> RefreshToken:
        return cls(token_id, family_id, account_id, token_digest(token), now, now + ttl)

    def redemption(self, now: datetime) -> Redemption:
        # Revoked first: a copy replayed after its family was revoked needs no second revocation.
        if self.revoked_at is not None:
            return Redemption.INVALID
        if self.used_at is not None:
            return Redemption.REUSED
        if now >= self.expires_at:
            return Redemption.INVALID
        return Redemption.VALID

    def use(self, now: datetime) -> None:
        if self.redemption(now) is not Redemption.VALID:
            raise ValueError("only a valid refresh token can be used")
        self.used_at = now


@dataclass
class PasswordResetToken:
    id: uuid.UUID
    account_id: uuid.UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def issue(
        cls, *, token_id: uuid.UUID, account_id: uuid.UUID, token: str, now: datetime
    ) -> PasswordResetToken:
        return cls(token_id, account_id, token_digest(token), now, now + RESET_LINK_TTL)

    def opens(self, now: datetime, newest: PasswordResetToken | None) -> bool:
        """True when this link may still reset the password: unused, unexpired and the account's newest."""
        is_newest = newest is not None and newest.id == self.id
        return self.used_at is None and now < self.expires_at and is_newest
