"""Sessions and password resets: signing in with a refresh token, refreshing, signing out, resetting.

The rules are in ``scheduling.domain.auth``. The raw tokens made here are returned to the caller or put in
the password-reset event, never stored and never logged (logs name token and family ids only).

Signing in goes through a ``SignInGuard``: it refuses attempts unchecked while the e-mail address is
locked or the client address has failed too often (``SignInLimits``, counted in a store every worker
shares), and checks a password against a dummy hash when no active account has the address, so an unknown
address answers as slowly as a wrong password. New passwords (sign-up, staff accounts, resets) must pass
the ``PasswordPolicy``; a completed reset unlocks the account.

Each use case runs in its caller's unit of work, and the caller commits (issue 13); where something must
follow the commit (lifting a sign-in lock) or a refusal must keep what it did (a revoked family), the use
case says so and the caller does it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_shared.throttle import CounterStore
from clinic_shared.tokens import Principal
from scheduling.domain.auth import (
    REFRESH_INVALID,
    RESET_LINK_INVALID,
    SIGN_UP_LINK_TTL,
    PasswordResetToken,
    Redemption,
    RefreshToken,
    SignInLimits,
    SignUpRequest,
    TooManyAttempts,
)
from scheduling.domain.calendar import token_digest
from scheduling.domain.errors import Conflict, InvalidCredentials, NotFound, RuleViolation
from scheduling.domain.model import Account, Patient
from scheduling.domain.passwords import PasswordPolicy
from scheduling.service_layer import accounts
from scheduling.service_layer.ports import PasswordHasher, UnitOfWork

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


WRONG_CREDENTIALS = "wrong email or password"


class SignInGuard:
    """Sign-in's defences against guessing passwords, shared by every worker through ``counters``.

    The store holds digests of e-mail and client addresses, never the addresses themselves.
    """

    def __init__(self, hasher: PasswordHasher, counters: CounterStore, limits: SignInLimits) -> None:
        self._hasher = hasher
        self._counters = counters
        self.limits = limits

    @functools.cached_property
    def dummy_hash(self) -> str:
        """A hash of a random password, made once per process by the hasher that makes the real ones.

        Checking a password against it costs what checking one against a real hash costs.
        """
        return self._hasher.hash(secrets.token_urlsafe(32))

    def admit(self, email: str, address: str) -> None:
        """Count an attempt on ``email`` from ``address``, or refuse it unchecked with ``TooManyAttempts``."""
        lock = self._counters.peek(_key("locked", email))
        if lock is not None:
            raise self.limits.account_locked(lock.resets_in)
        if self.limits.max_failures_per_address:
            failures = self._counters.peek(_key("address-failures", address))
            refusal = failures and self.limits.address_refusal(failures.count, failures.resets_in)
            if refusal:
                raise refusal
        attempts = self._counters.hit(_key("attempts", email), self.limits.window)
        if self.limits.locks(attempts.count):
            self._counters.hit(_key("locked", email), self.limits.lockout)
            self._counters.clear(_key("attempts", email))
            log.warning(
                "sign-in locked for %s after %d wrong passwords (e-mail digest %s)",
                self.limits.lockout,
                self.limits.max_failures,
                _digest(email)[:12],
            )
            raise self.limits.account_locked(self.limits.lockout)

    def verify(self, account: Account | None, password: str) -> bool:
        """Check the password; with no active account, against the dummy hash, so both cost one check."""
        if account is None or not account.active:
            self._hasher.verify(self.dummy_hash, password)
            return False
        return self._hasher.verify(account.password_hash, password)

    def failed(self, address: str) -> None:
        """Count a wrong password against the client address."""
        if self.limits.max_failures_per_address:
            self._counters.hit(_key("address-failures", address), self.limits.window)

    def succeeded(self, email: str) -> None:
        """Forget the account's earlier unsuccessful attempts."""
        self._counters.clear(_key("attempts", email))

    def admit_reset(self, email: str, address: str) -> bool:
        """Count a reset request: refuse it (``TooManyAttempts``) when ``address`` asked too often; else
        whether a link may be e-mailed to ``email`` (not beyond a few per window: no inbox is flooded)."""
        return self._admit_mail("reset", email, address, self.limits.resets_refusal)

    def admit_sign_up(self, email: str, address: str) -> bool:
        """Count a sign-up: refuse it (``TooManyAttempts``) when ``address`` signed up too often; else
        whether an e-mail may go to ``email`` (as many per window as reset links: no inbox is flooded)."""
        return self._admit_mail("sign-up", email, address, self.limits.sign_ups_refusal)

    def _admit_mail(
        self,
        kind: str,
        email: str,
        address: str,
        refusal_for: Callable[[int, timedelta], TooManyAttempts | None],
    ) -> bool:
        window = self.limits.window
        requests = self._counters.hit(_key(f"{kind}-address", address), window)
        refusal = refusal_for(requests.count, requests.resets_in)
        if refusal:
            raise refusal
        messages = self._counters.hit(_key(f"{kind}-email", email), window)
        return messages.count <= self.limits.max_resets_per_email

    def unlock(self, email: str) -> None:
        """End the account's lock and forget its attempts (a completed password reset)."""
        self._counters.clear(_key("locked", email), _key("attempts", email))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _key(kind: str, value: str) -> str:
    return f"sign-in:{kind}:{_digest(value)}"


def normalised_email(email: str) -> str:
    return email.strip().lower()


def sign_in(
    uow: UnitOfWork,
    guard: SignInGuard,
    email: str,
    password: str,
    client_address: str,
    refresh_ttl: timedelta,
) -> SignedIn:
    """Check the password and start a new refresh-token family (unless the guard refuses to check it)."""
    email = normalised_email(email)
    guard.admit(email, client_address)
    account = uow.repo.account_by_email(email)
    # Verified first, also without an account: an unknown address costs one hash check like a known one.
    verified = guard.verify(account, password)
    if account is None or not verified:
        guard.failed(client_address)
        raise InvalidCredentials(WRONG_CREDENTIALS)
    guard.succeeded(email)
    return _issue_refresh(uow, account, uow.new_id(), refresh_ttl)


class FamilyRevoked(InvalidCredentials):
    """A refresh refused after revoking the token's family: the caller commits the revocation, then refuses
    (it answers like any other refusal)."""


def refresh(uow: UnitOfWork, token: str, refresh_ttl: timedelta) -> SignedIn:
    """Use up a refresh token and issue its successor in the same family.

    The token's row is locked (FOR UPDATE on PostgreSQL; SQLite serializes writers), so of two refreshes
    of one token only the first succeeds and the second is a reuse. A reuse revokes the family and raises
    ``FamilyRevoked``: the caller commits the revocation before it refuses. Every refusal reads the same.
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
        why = "reused" if verdict is Redemption.REUSED else "presented for a disabled account"
        log.warning(
            "refresh token %s %s: family %s revoked (%d tokens)", stored.id, why, stored.family_id, revoked
        )
        raise FamilyRevoked(REFRESH_INVALID)
    stored.use(now)
    return _issue_refresh(uow, account, stored.family_id, refresh_ttl)


def sign_out(uow: UnitOfWork, token: str) -> None:
    """Revoke the token's family; an unknown token is no error (the session is gone either way)."""
    stored = uow.repo.refresh_token_for_update(token_digest(token))
    if stored is None:
        return
    uow.repo.revoke_refresh_tokens(uow.clock.now(), family_id=stored.family_id)


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


def request_password_reset(uow: UnitOfWork, guard: SignInGuard, email: str, address: str) -> None:
    """E-mail a reset link to an active account's holder; for any other address do nothing.

    The caller answers the same either way, so the answer does not tell whether the address has an
    account. Past a few links per address and window nothing more is sent (answered alike), and a client
    address asking too often is refused (429). The link reaches notifications through
    scheduling.password_reset.requested.
    """
    email = normalised_email(email)
    if not guard.admit_reset(email, address):
        log.warning("password reset not sent: too many requests for e-mail digest %s", _digest(email)[:12])
        return
    account = uow.repo.account_by_email(email)
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
    log.info("password reset %s issued for account %s", reset.id, account.id)


def confirm_password_reset(
    uow: UnitOfWork, hasher: PasswordHasher, policy: PasswordPolicy, token: str, new_password: str
) -> Account:
    """Set the new password with a link that still opens, use the link up and end every session; returns
    the account, whose sign-in lock the caller lifts (``SignInGuard.unlock``) once it has committed, so that
    only a password actually changed unlocks it.

    The link's row is locked, so two confirmations of one link cannot both succeed. A new password the
    policy refuses leaves the link unused.
    """
    now = uow.clock.now()
    reset = uow.repo.reset_token_for_update(token_digest(token))
    account = uow.repo.get(Account, reset.account_id) if reset else None
    if reset is None or account is None or not account.active:
        raise RuleViolation(RESET_LINK_INVALID, field="token")
    if not reset.opens(now, uow.repo.newest_reset_token(account.id)):
        raise RuleViolation(RESET_LINK_INVALID, field="token")
    policy.check(new_password, account.email)
    account.password_hash = hasher.hash(new_password)
    reset.used_at = now
    revoked = uow.repo.revoke_refresh_tokens(now, account_id=account.id)
    log.info("password reset %s used: account %s, %d refresh tokens revoked", reset.id, account.id, revoked)
    return account


def change_password(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    guard: SignInGuard,
    actor: Principal,
    current_password: str,
    new_password: str,
    client_address: str,
) -> None:
    """Change one's own password, given the current one (counted like a sign-in: guessing it through here
    locks the account the same way), and end every session of the account, this one too."""
    account = uow.repo.get(Account, actor.account_id)
    if account is None or not account.active:
        raise InvalidCredentials("the account is disabled")
    guard.admit(account.email, client_address)
    if not guard.verify(account, current_password):
        guard.failed(client_address)
        raise RuleViolation("this is not your current password", field="current_password")
    guard.succeeded(account.email)
    try:
        policy.check(new_password, account.email)
    except RuleViolation as refused:
        raise RuleViolation(str(refused), field="new_password") from None
    account.password_hash = hasher.hash(new_password)
    revoked = uow.repo.revoke_refresh_tokens(uow.clock.now(), account_id=account.id)
    log.info("password changed: account %s, %d refresh tokens revoked", account.id, revoked)


def set_staff_account_active(
    uow: UnitOfWork, actor: Principal, account_id: uuid.UUID, active: bool
) -> Account:
    """An admin disables (or enables again) a staff login of a clinic they act in; organisation-wide accounts
    only an organisation-wide admin. Disabling ends every session at once: the refresh tokens are revoked
    and sign-in and refresh refuse the account (access tokens already issued expire within minutes)."""
    account = uow.repo.get(Account, account_id)
    if account is None or account.patient_id is not None or not _may_manage(actor, account):
        raise NotFound("staff account not found")
    if account.id == actor.account_id and not active:
        raise RuleViolation("you cannot disable your own account", field="account_id")
    account.active = active
    revoked = 0 if active else uow.repo.revoke_refresh_tokens(uow.clock.now(), account_id=account.id)
    log.info(
        "staff account %s %s by %s (%d refresh tokens revoked)",
        account.id,
        "enabled" if active else "disabled",
        actor.account_id,
        revoked,
    )
    return account


def _may_manage(actor: Principal, account: Account) -> bool:
    if account.clinic_id is None:
        return actor.organisation_wide
    return actor.acts_in(account.clinic_id)


# --- new accounts --------------------------------------------------------------------------------------


SIGN_UP_LINK_INVALID = "This link has expired or was already used"


def request_sign_up(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    guard: SignInGuard,
    cmd: accounts.RegisterPatient,
    address: str,
) -> None:
    """A patient signs up: e-mail a link that opens the account, or, when an active account already uses
    the address, an e-mail telling its holder so.

    The caller answers the same either way, and both ways cost one password hash, so neither the answer nor
    its time tells whether the address has an account. The password must pass the policy (422) first. A
    client address signing up too often is refused (429); past a few e-mails per address and window nothing
    more is sent (answered alike). Expired sign-ups are deleted here.
    """
    policy.check(cmd.password, cmd.email)
    email = normalised_email(cmd.email)
    now = uow.clock.now()
    uow.repo.purge_sign_up_requests(now)
    if not guard.admit_sign_up(email, address):
        log.warning("sign-up e-mail not sent: too many for e-mail digest %s", _digest(email)[:12])
        return
    password_hash = hasher.hash(cmd.password)  # made whether or not the address has an account
    account = uow.repo.account_by_email(email)
    if account is not None:
        if account.active:  # a disabled account's holder is not told: sign-in refuses it anyway
            _tell_the_holder(uow, account)
        return
    token = new_token()
    pending = SignUpRequest(
        id=uow.new_id(),
        email=email,
        password_hash=password_hash,
        first_name=cmd.first_name,
        last_name=cmd.last_name,
        phone=cmd.phone,
        language=cmd.language,
        token_hash=token_digest(token),
        created_at=now,
        expires_at=now + SIGN_UP_LINK_TTL,
    )
    uow.repo.add(pending)
    uow.emit(
        "scheduling.sign_up.requested",
        {
            "sign_up_id": pending.id,
            "email": email,
            "language": pending.language,
            "first_name": pending.first_name,
            "token": token,
            "expires_at": pending.expires_at,
        },
    )
    log.info("sign-up %s waits for its e-mail address to be confirmed", pending.id)


def _tell_the_holder(uow: UnitOfWork, account: Account) -> None:
    patient = uow.repo.get(Patient, account.patient_id) if account.patient_id else None
    uow.emit(
        "scheduling.sign_up.account_exists",
        {
            "account_id": account.id,
            "patient_id": account.patient_id,
            "email": account.email,
            "language": patient.language if patient else "en",
            "first_name": patient.first_name if patient else None,
        },
    )
    log.info("sign-up with the address of account %s: its holder is told", account.id)


def confirm_sign_up(uow: UnitOfWork, refresh_ttl: timedelta, token: str) -> tuple[Patient, SignedIn]:
    """Open the account of a sign-up whose link still works, and sign its holder in.

    The link's row is locked, so two confirmations of one link cannot both open it; a link whose address
    got an account meanwhile (another sign-up's link, confirmed first) no longer works.
    """
    now = uow.clock.now()
    pending = uow.repo.sign_up_request_for_update(token_digest(token))
    if pending is None or not pending.opens(now):
        raise RuleViolation(SIGN_UP_LINK_INVALID, field="token")
    pending.used_at = now
    cmd = accounts.NewPatient(
        email=pending.email,
        first_name=pending.first_name,
        last_name=pending.last_name,
        phone=pending.phone,
        language=pending.language,
    )
    try:
        patient = accounts.open_patient_account(uow, cmd, pending.password_hash)
    except Conflict:
        raise RuleViolation(SIGN_UP_LINK_INVALID, field="token") from None
    account = uow.repo.account_by_email(pending.email)
    assert account is not None  # just opened
    signed_in = _issue_refresh(uow, account, uow.new_id(), refresh_ttl)
    log.info("sign-up %s confirmed: patient %s", pending.id, patient.id)
    return patient, signed_in


def create_staff_account(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    actor: Principal,
    cmd: accounts.CreateStaffAccount,
) -> Account:
    """An admin creates a staff login, with a password the policy accepts."""
    policy.check(cmd.password, cmd.email)
    return accounts.create_staff_account(uow, hasher, actor, cmd)
