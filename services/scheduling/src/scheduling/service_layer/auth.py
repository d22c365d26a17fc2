"""Sessions and password resets: signing in with a refresh token, refreshing, signing out, resetting.

The rules are in ``scheduling.domain.auth``. The raw tokens made here are returned to the caller or put in
the password-reset event, never stored and never logged (logs name token and family ids only).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.domain.auth import (
    REFRESH_INVALID,
    RESET_LINK_INVALID,
    PasswordResetToken,
    Redemption,
    RefreshToken,
)
from scheduling.domain.calendar import token_digest
from scheduling.domain.errors import InvalidCredentials, RuleViolation
from scheduling.domain.model import Account, Patient
from scheduling.service_layer.ports import PasswordHasher, UnitOfWork
from scheduling.service_layer.services import authenticate

log = logging.getLogger(__name__)

# 256 bits of randomness, URL-safe (43 characters).
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class SignedIn:
    """The account to issue an access token for, and the refresh token that goes with it (shown once)."""

    account: Account
    refresh_token: str
    refresh_expires_at: datetime


def sign_in(
    uow: UnitOfWork, hasher: PasswordHasher, email: str, password: str, refresh_ttl: timedelta
) -> SignedIn:
    """Check the password and start a new refresh-token family."""
    account = authenticate(uow, hasher, email, password)
    signed_in = _issue_refresh(uow, account, uow.new_id(), refresh_ttl)
    uow.commit()
    return signed_in


def refresh(uow: UnitOfWork, token: str, refresh_ttl: timedelta) -> SignedIn:
    """Use up a refresh token and issue its successor in the same family.

    The token's row is locked (FOR UPDATE on PostgreSQL; SQLite serializes writers), so of two refreshes
    of one token only the first succeeds and the second is a reuse. A reuse revokes the family, and the
    revocation is committed before the refusal. Every refusal reads the same.
    """
    now = uow.clock.now()
    stored = uow.repo.refresh_token_for_update(token_digest(token))
    if stored is None:
        raise InvalidCredentials(REFRESH_INVALID)
    verdict = stored.redemption(now)
    if verdict is Redemption.INVALID:
        raise InvalidCredentials(REFRESH_INVALID)
    account = uow.repo.get(Account, stored.account_id)
    if verdict is Redemption.REUSED or account is None or not account.active:
        revoked = uow.repo.revoke_refresh_tokens(now, family_id=stored.family_id)
        uow.commit()
        why = "reused" if verdict is Redemption.REUSED else "presented for a disabled account"
        log.warning(
            "refresh token %s %s: family %s revoked (%d tokens)", stored.id, why, stored.family_id, revoked
        )
        raise InvalidCredentials(REFRESH_INVALID)
    stored.use(now)
    signed_in = _issue_refresh(uow, account, stored.family_id, refresh_ttl)
    uow.commit()
    return signed_in


def sign_out(uow: UnitOfWork, token: str) -> None:
    """Revoke the token's family; an unknown token is no error (the session is gone either way)."""
    stored = uow.repo.refresh_token_for_update(token_digest(token))
    if stored is None:
        return
    uow.repo.revoke_refresh_tokens(uow.clock.now(), family_id=stored.family_id)
    uow.commit()


def _issue_refresh(
    uow: UnitOfWork, account: Account, family_id: uuid.UUID, refresh_ttl: timedelta
) -> SignedIn:
    token = new_token()
    stored = RefreshToken.issue(
        token_id=uow.new_id(),
        family_id=family_id,
        account_id=account.id,
        token=token,
        now=uow.clock.now(),
        ttl=refresh_ttl,
    )
    uow.repo.add(stored)
    return SignedIn(account, token, stored.expires_at)


# --- password reset ------------------------------------------------------------------------------------


def request_password_reset(uow: UnitOfWork, email: str) -> None:
    """E-mail a reset link to an active account's holder; for any other address do nothing.

    The caller answers the same either way, so the answer does not tell whether the address has an
    account. The link reaches notifications through scheduling.password_reset.requested.
    """
    account = uow.repo.account_by_email(email.strip().lower())
    if account is None or not account.active:
        return
    now = uow.clock.now()
    token = new_token()
    reset = PasswordResetToken.issue(token_id=uow.new_id(), account_id=account.id, token=token, now=now)
    uow.repo.add(reset)
    patient = uow.repo.get(Patient, account.patient_id) if account.patient_id else None
    uow.emit(
        "scheduling.password_reset.requested",
        {
            "account_id": account.id,
            "patient_id": account.patient_id,
            "email": account.email,
            # Staff accounts have no language of their own.
            "language": patient.language if patient else "en",
            "first_name": patient.first_name if patient else None,
            "token": token,
            "expires_at": reset.expires_at,
        },
    )
    uow.commit()
    log.info("password reset %s issued for account %s", reset.id, account.id)


def confirm_password_reset(uow: UnitOfWork, hasher: PasswordHasher, token: str, new_password: str) -> None:
    """Set the new password with a link that still opens, use the link up and end every session.

    The link's row is locked, so two confirmations of one link cannot both succeed.
    """
    now = uow.clock.now()
    reset = uow.repo.reset_token_for_update(token_digest(token))
    account = uow.repo.get(Account, reset.account_id) if reset else None
    if reset is None or account is None or not account.active:
        raise RuleViolation(RESET_LINK_INVALID, field="token")
    if not reset.opens(now, uow.repo.newest_reset_token(account.id)):
        raise RuleViolation(RESET_LINK_INVALID, field="token")
    account.password_hash = hasher.hash(new_password)
    reset.used_at = now
    revoked = uow.repo.revoke_refresh_tokens(now, account_id=account.id)
    uow.commit()
    log.info("password reset %s used: account %s, %d refresh tokens revoked", reset.id, account.id, revoked)
