"""Signing in and out, signing up, keeping a session's tokens fresh, and resetting a password.

Tokens come from scheduling (the issuer) and live in the server-side session only. The access token is
verified here with scheduling's published keys before the web front believes the ids in it.
"""

from __future__ import annotations

import time
import uuid
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from clinic_shared.tokens import Principal, TokenError, TokenVerifier
from web.service_layer.ports import ApiError, Apis

# Refresh a little before the access token runs out, so a page never meets an expired one halfway.
REFRESH_MARGIN_SECONDS = 30


class SignInFailed(Exception):
    """Wrong e-mail or password (never says which)."""


class SignInPaused(Exception):
    """Scheduling refuses to check passwords for this e-mail or address for a while (too many wrong ones)."""


class SessionEnded(Exception):
    """The refresh token was refused (expired, revoked, reused): the person must sign in again."""


@dataclass(frozen=True)
class Credentials:
    """What a signed-in browser session holds: the tokens and who they are for."""

    access_token: str
    access_expires_at: float
    refresh_token: str | None
    account_id: str
    roles: tuple[str, ...]
    patient_id: str | None
    practitioner_id: str | None
    clinic_id: str | None

    @property
    def is_patient(self) -> bool:
        return "patient" in self.roles

    @property
    def is_staff(self) -> bool:
        return bool(set(self.roles) - {"patient"})

    def needs_refresh(self, now: float) -> bool:
        return self.access_expires_at - now < REFRESH_MARGIN_SECONDS

    def to_session(self) -> dict[str, Any]:
        return asdict(self) | {"roles": list(self.roles)}

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> Credentials:
        return cls(**(data | {"roles": tuple(data["roles"])}))


def _credentials(verifier: TokenVerifier, body: dict[str, Any], now: float) -> Credentials:
    principal: Principal = verifier.verify(body["access_token"])
    return Credentials(
        access_token=body["access_token"],
        access_expires_at=now + int(body.get("expires_in", 0)),
        refresh_token=body.get("refresh_token"),
        account_id=str(principal.account_id),
        roles=tuple(sorted(principal.roles)),
        patient_id=_str_or_none(principal.patient_id),
        practitioner_id=_str_or_none(principal.practitioner_id),
        clinic_id=_str_or_none(principal.clinic_id),
    )


def _str_or_none(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


def sign_in(apis: Apis, verifier: TokenVerifier, email: str, password: str) -> Credentials:
    try:
        body = apis.scheduling.post("/auth/token", json={"email": email, "password": password})
    except ApiError as error:
        if error.status in (400, 401, 422):
            raise SignInFailed from None
        if error.status == 429:
            raise SignInPaused from None
        raise
    return _credentials(verifier, body, time.time())


def registered_language(apis: Apis, credentials: Credentials) -> str | None:
    """The language the patient registered with (their messages use it; so does the portal)."""
    if not credentials.patient_id:
        return None
    try:
        patient = apis.scheduling.get(f"/patients/{credentials.patient_id}", token=credentials.access_token)
    except ApiError:
        return None
    language = patient.get("language")
    return str(language) if language else None


def refresh(apis: Apis, verifier: TokenVerifier, credentials: Credentials) -> Credentials:
    if not credentials.refresh_token:
        raise SessionEnded
    try:
        body = apis.scheduling.post("/auth/refresh", json={"refresh_token": credentials.refresh_token})
        return _credentials(verifier, body, time.time())
    except (ApiError, TokenError):
        raise SessionEnded from None


def sign_out(apis: Apis, credentials: Credentials) -> None:
    if credentials.refresh_token:
        with suppress(ApiError):  # the session is forgotten here either way
            apis.scheduling.post("/auth/logout", json={"refresh_token": credentials.refresh_token})


@dataclass(frozen=True)
class SignUp:
    first_name: str
    last_name: str
    email: str
    phone: str | None
    language: str
    password: str
    sms_consent: bool
    email_consent: bool


class SignUpPaused(Exception):
    """Scheduling refuses more sign-ups from this address for a while."""


class LinkExpired(Exception):
    """A sign-up link that expired, was used, or whose address got an account meanwhile."""


def sign_up(apis: Apis, form: SignUp) -> None:
    """Ask scheduling to e-mail a link that opens the account (or, when the address has an account, to tell
    its holder). The answer is the same either way; the consent choices wait in the browser's session."""
    try:
        apis.scheduling.post(
            "/patients",
            json={
                "email": form.email,
                "password": form.password,
                "first_name": form.first_name,
                "last_name": form.last_name,
                "phone": form.phone,
                "language": form.language,
            },
        )
    except ApiError as error:
        if error.status == 429:
            raise SignUpPaused from None
        raise


def confirm_sign_up(apis: Apis, verifier: TokenVerifier, token: str) -> Credentials:
    """Open the account with the e-mailed link's token; the patient is signed in."""
    try:
        body = apis.scheduling.post("/patients/confirm", json={"token": token})
    except ApiError as error:
        if error.status in (400, 404, 409, 410, 422):
            raise LinkExpired from None
        raise
    return _credentials(verifier, body, time.time())


def request_password_reset(apis: Apis, email: str) -> None:
    apis.scheduling.post("/auth/password-reset", json={"email": email})


def reset_password(apis: Apis, token: str, password: str) -> None:
    apis.scheduling.post("/auth/password-reset/confirm", json={"token": token, "password": password})
