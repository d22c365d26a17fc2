"""Accounts and tokens: patient self-registration, staff accounts, sessions (access and refresh tokens),
password resets and the public keys.

Refresh and reset tokens travel in request bodies, never in paths, so access logs cannot hold them.

The client address a sign-in or a reset request is counted against is ``request.remote_addr``: the peer
that connected, or what the ``TRUSTED_PROXY_HOPS`` proxies in front of it saw (none by default).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import Response, request
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from clinic_shared.web.auth import JwksSchema, current_principal, public, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.problems import Problem, problem_response
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.auth import TooManyAttempts
from scheduling.domain.model import Account, Patient, PatientAccess
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.accounts import (
    AccountSchema,
    PasswordChangeRequest,
    PasswordResetAccepted,
    PasswordResetConfirmRequest,
    PasswordResetRequest,
    RefreshTokenRequest,
    RegisterPatientRequest,
    SignedUpSchema,
    SignUpAccepted,
    SignUpConfirmRequest,
    StaffAccountRequest,
    TokenRequest,
    TokenResponse,
)
from scheduling.entrypoints.api.schemas.patients import (
    PatientAccessSchema,
    PatientExportSchema,
    PatientSchema,
    UpdatePatientRequest,
)
from scheduling.service_layer import accounts, auth, privacy

blp = Blueprint("accounts", __name__, description="Accounts, tokens and patients")


@blp.errorhandler(TooManyAttempts)
def _too_many_attempts(error: TooManyAttempts) -> Response:
    return problem_response(
        Problem(
            429,
            "Too Many Requests",
            str(error),
            extra={"reason": error.reason},
            headers={"Retry-After": str(error.retry_after_seconds)},
        )
    )


@blp.route("/.well-known/jwks.json", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, JwksSchema)
@public
def jwks() -> dict[str, Any]:
    """Public keys that verify the access tokens this service issues."""
    return container().signing_key.jwks()


@blp.route("/auth/token", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(TokenRequest())
@blp.response(200, TokenResponse)
@blp.alt_response(401, description="Wrong email or password, or the account is disabled")
@blp.alt_response(
    429,
    description="No password is checked for now, the right one neither (see `Retry-After`): the e-mail "
    "address had too many wrong passwords and is locked for a while (`reason`: `account_locked`; a "
    "completed password reset unlocks it), or this client address had too many (`reason`: "
    "`too_many_failures_from_address`)",
)
@public
def issue_token(body: dict[str, str]) -> dict[str, Any]:
    """Exchange an email and password for a short-lived access token and a refresh token."""
    c = container()
    with c.uow() as uow:
        signed_in = auth.sign_in(
            uow,
            c.sign_in_guard,
            body["email"],
            body["password"],
            request.remote_addr or "unknown",
            c.refresh_token_ttl,
        )
        uow.commit()
    return _tokens(signed_in)


@blp.route("/auth/refresh", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(RefreshTokenRequest())
@blp.response(200, TokenResponse)
@blp.alt_response(
    401,
    description="Unknown, expired, revoked or already used (a reuse also revokes every token of the "
    "session), or the account is disabled: sign in again",
)
@public
def refresh_token(body: dict[str, str]) -> dict[str, Any]:
    """Trade a refresh token for a new access token and the next refresh token; the old one is used up."""
    c = container()
    with c.uow() as uow:
        try:
            signed_in = auth.refresh(uow, body["refresh_token"], c.refresh_token_ttl)
        except auth.FamilyRevoked:
            uow.commit()  # the revocation stands, and the answer is the refusal
            raise
        uow.commit()
    return _tokens(signed_in)


@blp.route("/auth/logout", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(RefreshTokenRequest())
@blp.response(204, description="The session's refresh tokens are revoked (also when the token is unknown)")
@public
def logout(body: dict[str, str]) -> None:
    """Sign out: revoke the refresh token and every token of its session (access tokens simply expire)."""
    with container().uow() as uow:
        auth.sign_out(uow, body["refresh_token"])
        uow.commit()


@blp.route("/auth/password-reset", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(PasswordResetRequest())
@blp.response(202, PasswordResetAccepted)
@blp.alt_response(
    429,
    description="This client address asked for too many reset links; try again after `Retry-After` "
    "(`reason`: `too_many_resets_from_address`). Past a few links per e-mail address and window the "
    "answer stays 202 and nothing more is sent",
)
@public
def request_password_reset(body: dict[str, str]) -> dict[str, str]:
    """Ask for a password-reset link by e-mail (valid 30 minutes, once; only the newest link works).

    The answer is the same whether or not the address has an account.
    """
    c = container()
    with c.uow() as uow:
        auth.request_password_reset(uow, c.sign_in_guard, body["email"], request.remote_addr or "unknown")
        uow.commit()
    return {"message": RESET_ACCEPTED}


@blp.route("/auth/password-reset/confirm", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(PasswordResetConfirmRequest())
@blp.response(
    204,
    description="The password is changed, every session of the account is signed out and a sign-in lock "
    "is lifted",
)
@blp.alt_response(
    422,
    description="The link has expired or was already used (field `token`), the new password is too easy "
    "to guess (field `password`; the link still works), or a bad field",
)
@public
def confirm_password_reset(body: dict[str, str]) -> None:
    """Set a new password with the token from a reset link."""
    c = container()
    with c.uow() as uow:
        account = auth.confirm_password_reset(
            uow, c.hasher, c.password_policy, body["token"], body["password"]
        )
        uow.commit()
    c.sign_in_guard.unlock(account.email)  # only once the new password is committed


@blp.route("/auth/password", methods=["POST"])
@blp.arguments(PasswordChangeRequest())
@blp.response(204, description="The password is changed and every session of the account is signed out")
@blp.alt_response(
    422,
    description="The current password is wrong (field `current_password`), the new one is too easy to "
    "guess (field `new_password`), or a bad field",
)
@blp.alt_response(
    429, description="Too many wrong passwords for this account or from this address (see `Retry-After`)"
)
def change_password(body: dict[str, str]) -> None:
    """Change your own password (give the current one); every session, this one too, must sign in again."""
    c = container()
    with c.uow() as uow:
        auth.change_password(
            uow,
            c.hasher,
            c.password_policy,
            c.sign_in_guard,
            current_principal(),
            body["current_password"],
            body["new_password"],
            request.remote_addr or "unknown",
        )
        uow.commit()


RESET_ACCEPTED = "If an account uses this address, a link to reset its password has been sent to it."


def _tokens(signed_in: auth.SignedIn) -> dict[str, Any]:
    c = container()
    account = signed_in.account
    token = c.signing_key.issue(
        subject=account.id,
        roles=account.roles,
        issuer=c.settings.common.jwt_issuer,
        audience=c.settings.common.jwt_audience,
        now=c.clock.now(),
        ttl=c.token_ttl,
        claims={
            "patient_id": account.patient_id,
            "practitioner_id": account.practitioner_id,
            "clinic_id": account.clinic_id,
        },
    )
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": int(c.token_ttl.total_seconds()),
        "refresh_token": signed_in.refresh_token,
        # A refresh token was just issued: it is valid for the whole TTL.
        "refresh_expires_in": int(c.refresh_token_ttl.total_seconds()),
    }


SIGN_UP_ACCEPTED = (
    "Check your inbox: we have e-mailed this address a link to finish signing up (if it already has an "
    "account, the e-mail says so instead)."
)


@blp.route("/patients", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(RegisterPatientRequest())
@blp.response(202, SignUpAccepted)
@blp.alt_response(422, description="A bad field, or a password too easy to guess (field `password`)")
@blp.alt_response(
    429,
    description="This client address signed up too often; try again after `Retry-After` (`reason`: "
    "`too_many_sign_ups_from_address`). Past a few e-mails per address and window the answer stays 202 "
    "and nothing more is sent",
)
@public
def register_patient(body: dict[str, Any]) -> dict[str, str]:
    """A patient signs up: the account opens when they follow the link e-mailed to the address (valid 24
    hours, once: POST /patients/confirm).

    The answer is the same whether or not the address has an account: if it has one, its holder is
    e-mailed that someone tried to sign up with it.
    """
    c = container()
    with c.uow() as uow:
        auth.request_sign_up(
            uow,
            c.hasher,
            c.password_policy,
            c.sign_in_guard,
            accounts.RegisterPatient(**body),
            request.remote_addr or "unknown",
        )
        uow.commit()
    return {"message": SIGN_UP_ACCEPTED}


@blp.route("/patients/confirm", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(SignUpConfirmRequest())
@blp.response(201, SignedUpSchema)
@blp.alt_response(
    422, description="The link has expired, was already used, or its address has an account (field `token`)"
)
@public
def confirm_sign_up(body: dict[str, str]) -> dict[str, Any]:
    """Open the account of a sign-up with the token of its e-mailed link; the patient is signed in."""
    c = container()
    with c.uow() as uow:
        patient, signed_in = auth.confirm_sign_up(uow, c.refresh_token_ttl, body["token"])
        uow.commit()
    return _tokens(signed_in) | {"patient": patient}


@blp.route("/patients/<uuid:patient_id>", methods=["GET"])
@blp.response(200, PatientSchema)
def get_patient(patient_id: uuid.UUID) -> Patient:
    """A patient sees their own record; staff see the patients of their clinic (with an appointment, plan or
    waitlist entry there; organisation-wide staff see any)."""
    with container().uow() as uow:
        patient = accounts.get_patient(uow, current_principal(), patient_id)
        uow.commit()
        return patient


@blp.route("/patients/<uuid:patient_id>", methods=["PATCH"])
@blp.arguments(UpdatePatientRequest())
@blp.response(200, PatientSchema)
def update_patient(body: dict[str, Any], patient_id: uuid.UUID) -> Patient:
    """Change contact details or language."""
    with container().uow() as uow:
        patient = accounts.update_patient(
            uow, current_principal(), accounts.UpdatePatient(patient_id=patient_id, **body)
        )
        uow.commit()
        return patient


@blp.route("/patients/<uuid:patient_id>/access-log", methods=["GET"])
@blp.response(200, PatientAccessSchema(many=True))
@blp.paginate()
@blp.alt_response(403, description="Only admins read the access log")
@require_roles("admin")
def patient_access_log(
    patient_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[PatientAccess]:
    """Who read or changed this patient's record, newest first (the patient's own reads are not logged).
    A clinic's admin sees what their clinic's staff did; an organisation-wide admin everything."""
    with container().uow() as uow:
        items, pagination_parameters.item_count = privacy.patient_access_log(
            uow,
            current_principal(),
            patient_id,
            pagination_parameters.first_item,
            pagination_parameters.page_size,
        )
        return items


@blp.route("/patients/<uuid:patient_id>/export", methods=["GET"])
@blp.response(200, PatientExportSchema)
def export_patient(patient_id: uuid.UUID) -> privacy.PatientExport:
    """Download everything scheduling holds about you (or, as an admin, about a patient who asked)."""
    with container().uow() as uow:
        export = privacy.export_patient(uow, current_principal(), patient_id)
        uow.commit()
        return export


@blp.route("/patients/<uuid:patient_id>", methods=["DELETE"])
@blp.response(
    204,
    description="The patient's personal data is erased: names, e-mail and phone replaced here and in the "
    "other services' copies, the account closed and signed out; appointments, plans and financial records "
    "are kept under the same id",
)
@blp.alt_response(422, description="Upcoming appointments must be cancelled first (field `patient_id`)")
def erase_patient(patient_id: uuid.UUID) -> None:
    """Erase your own personal data (or, as an admin who may see the patient, at their request)."""
    with container().uow() as uow:
        privacy.erase_patient(uow, current_principal(), patient_id)
        uow.commit()


@blp.route("/staff-accounts", methods=["POST"])
@blp.arguments(StaffAccountRequest())
@blp.response(201, AccountSchema)
@blp.alt_response(422, description="A bad field, or a password too easy to guess (field `password`)")
@blp.alt_response(
    403, description="An organisation-wide account asked by a clinic's admin (only organisation-wide admins)"
)
@blp.alt_response(
    404,
    description="No such clinic or practitioner (the field is named); another clinic than a clinic admin's "
    "own is not found either",
)
@blp.alt_response(409, description="An account with this e-mail address exists (field `email`)")
@require_roles("admin")
def create_staff_account(body: dict[str, Any]) -> Account:
    """An admin creates a staff login with its roles, in one clinic (``clinic_id``) or organisation-wide
    (``organisation_wide: true``): exactly one of the two. A clinic's admin creates accounts of their own
    clinic only."""
    c = container()
    with c.uow() as uow:
        account = auth.create_staff_account(
            uow, c.hasher, c.password_policy, current_principal(), accounts.CreateStaffAccount(**body)
        )
        uow.commit()
        return account


class StaffAccountQuery(Schema):
    clinic_id = fields.UUID(required=True, metadata={"description": "The clinic whose staff to list"})


@blp.route("/staff-accounts", methods=["GET"])
@blp.arguments(StaffAccountQuery(), location="query")
@blp.response(200, AccountSchema(many=True))
@blp.paginate()
@blp.alt_response(403, description="Only admins list staff accounts")
@blp.alt_response(
    404, description="No such clinic; another clinic than a clinic admin's own is not found either"
)
@require_roles("admin")
def list_staff_accounts(
    query: dict[str, uuid.UUID], pagination_parameters: PaginationParameters
) -> Sequence[Account]:
    """The staff logins of a clinic, by e-mail address, with their roles, practitioner link and whether they
    may sign in (``active: false``: disabled). A clinic's admin lists their own clinic; an
    organisation-wide admin any clinic. Organisation-wide accounts and patients' logins are not listed."""
    with container().uow() as uow:
        items, pagination_parameters.item_count = accounts.list_staff_accounts(
            uow, current_principal(), query["clinic_id"], page_of(pagination_parameters)
        )
        return items


@blp.route("/staff-accounts/<uuid:account_id>/disable", methods=["POST"])
@blp.response(200, AccountSchema)
@blp.alt_response(
    404,
    description="No such staff account in a clinic you administer (organisation-wide accounts: only "
    "an organisation-wide admin)",
)
@blp.alt_response(422, description="Your own account (field `account_id`)")
@require_roles("admin")
def disable_staff_account(account_id: uuid.UUID) -> Account:
    """Disable a staff login: it can no longer sign in, and every session of it ends at once."""
    with container().uow() as uow:
        account = auth.set_staff_account_active(uow, current_principal(), account_id, active=False)
        uow.commit()
        return account


@blp.route("/staff-accounts/<uuid:account_id>/enable", methods=["POST"])
@blp.response(200, AccountSchema)
@blp.alt_response(404, description="No such staff account in a clinic you administer")
@require_roles("admin")
def enable_staff_account(account_id: uuid.UUID) -> Account:
    """Let a disabled staff login sign in again."""
    with container().uow() as uow:
        account = auth.set_staff_account_active(uow, current_principal(), account_id, active=True)
        uow.commit()
        return account
