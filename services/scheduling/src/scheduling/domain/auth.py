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

Signing up answers alike whether or not the address has an account: a new address gets a link that creates
the account (``SignUpRequest``, valid ``SIGN_UP_LINK_TTL``), a known one an e-mail saying it is already in
use. Only the holder of the inbox learns which it was.

Guessing passwords is slowed by ``SignInLimits``: a few wrong passwords lock the e-mail address for a
while (a completed password reset unlocks it), and many from one client address stop that address.
"""

from __future__ import annotations

import enum
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.domain.calendar import token_digest
from scheduling.domain.errors import SchedulingError

RESET_LINK_TTL = timedelta(minutes=30)
SIGN_UP_LINK_TTL = timedelta(hours=24)
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


@dataclass
class SignUpRequest:
    """A sign-up waiting for its e-mail address to be confirmed: what the account and patient will hold.

    The password is kept hashed, the link's token as a digest; the row is deleted once it expires.
    """

    id: uuid.UUID
    email: str
    password_hash: str
    first_name: str
    last_name: str
    phone: str | None
    language: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def opens(self, now: datetime) -> bool:
        """True when the link may still create the account: unused and unexpired."""
        return self.used_at is None and now < self.expires_at


ACCOUNT_LOCKED = (
    "Too many wrong passwords: this account is locked for {minutes} more minute(s). Try again later, or "
    "reset your password (POST /auth/password-reset, the 'Forgot your password?' link) to unlock it now."
)
ADDRESS_THROTTLED = "Too many failed sign-ins from this network address; try again in {minutes} minute(s)."
RESETS_THROTTLED = (
    "Too many password-reset requests from this network address; try again in {minutes} minute(s)."
)
SIGN_UPS_THROTTLED = "Too many sign-ups from this network address; try again in {minutes} minute(s)."


class TooManyAttempts(SchedulingError):
    """Sign-in refuses to check any password for a while (429, with ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: timedelta, reason: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reason = reason

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds, rounded up and at least 1, as ``Retry-After`` gives them."""
        return max(1, math.ceil(self.retry_after.total_seconds()))


@dataclass(frozen=True)
class SignInLimits:
    """How many wrong passwords sign-in tolerates before it stops checking them.

    Per account, keyed by the normalised e-mail address whether or not an account uses it (so the answers
    tell nothing about which addresses have one): ``max_failures`` wrong passwords within ``window`` are
    answered as wrong; the next attempt locks the address for ``lockout``. While locked every attempt is
    refused unchecked, the right password too (a lock that the right password opened would only slow the
    guessing down), until the lock ends or a password reset is completed.

    Per client address, over any accounts: after ``max_failures_per_address`` wrong passwords within
    ``window`` its attempts are refused unchecked until the window ends (0 turns this limit off).
    """

    max_failures: int = 10
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    max_failures_per_address: int = 100
    # Reset links e-mailed per address within the window (more requests are answered alike, send nothing),
    # and reset requests per client address (more are refused: one client cannot flood many inboxes).
    max_resets_per_email: int = 3
    max_resets_per_address: int = 30
    # Sign-ups per client address within the window (more are refused; 0: no limit); e-mails to one address
    # (confirmation links or "already in use") follow the reset links' limit.
    max_sign_ups_per_address: int = 100

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.max_failures_per_address < 0 or self.max_sign_ups_per_address < 0:
            raise ValueError("at least one failure per account, and none or more per address")
        if self.window <= timedelta(0) or self.lockout <= timedelta(0):
            raise ValueError("the window and the lockout must be positive")

    def locks(self, attempts: int) -> bool:
        """True when an account's ``attempts``-th unsuccessful attempt within the window starts a lock.

        Attempts are counted before their password is checked, so that parallel guesses cannot slip in
        more checks than the limit allows; a successful sign-in forgets them.
        """
        return attempts > self.max_failures

    def account_locked(self, remaining: timedelta) -> TooManyAttempts:
        return TooManyAttempts(
            ACCOUNT_LOCKED.format(minutes=_minutes(remaining)), retry_after=remaining, reason="account_locked"
        )

    def address_refusal(self, failures: int, resets_in: timedelta) -> TooManyAttempts | None:
        """The refusal for a client address with ``failures`` wrong passwords in its window, if it is over."""
        if self.max_failures_per_address == 0 or failures < self.max_failures_per_address:
            return None
        return TooManyAttempts(
            ADDRESS_THROTTLED.format(minutes=_minutes(resets_in)),
            retry_after=resets_in,
            reason="too_many_failures_from_address",
        )

    def resets_refusal(self, requests: int, resets_in: timedelta) -> TooManyAttempts | None:
        """The refusal for a client address with ``requests`` reset requests in its window, if it is over."""
        if requests <= self.max_resets_per_address:
            return None
        return TooManyAttempts(
            RESETS_THROTTLED.format(minutes=_minutes(resets_in)),
            retry_after=resets_in,
            reason="too_many_resets_from_address",
        )

    def sign_ups_refusal(self, requests: int, resets_in: timedelta) -> TooManyAttempts | None:
        """The refusal for a client address with ``requests`` sign-ups in its window, if it is over."""
        if self.max_sign_ups_per_address == 0 or requests <= self.max_sign_ups_per_address:
            return None
        return TooManyAttempts(
            SIGN_UPS_THROTTLED.format(minutes=_minutes(resets_in)),
            retry_after=resets_in,
            reason="too_many_sign_ups_from_address",
        )


def _minutes(duration: timedelta) -> int:
    return max(1, math.ceil(duration.total_seconds() / 60))
