"""Accounts and tokens: patient self-registration, staff accounts, token issuance and the public keys."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from clinic_shared.web.auth import current_principal, public, require_roles
from scheduling.domain.model import Account, Patient
from scheduling.entrypoints.api import schemas
from scheduling.entrypoints.api.context import container
from scheduling.service_layer import services

blp = Blueprint("accounts", __name__, description="Accounts, tokens and patients")


@blp.route("/.well-known/jwks.json", methods=["GET"])
@blp.doc(security=[])
@public
def jwks() -> dict[str, Any]:
    """Public keys that verify the access tokens this service issues."""
    return container().signing_key.jwks()


@blp.route("/auth/token", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(schemas.TokenRequest())
@blp.response(200, schemas.TokenResponse)
@public
def issue_token(body: dict[str, str]) -> dict[str, Any]:
    """Exchange an email and password for a short-lived access token."""
    c = container()
    with c.uow() as uow:
        account = services.authenticate(uow, c.hasher, body["email"], body["password"])
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
    return {"access_token": token, "token_type": "Bearer", "expires_in": int(c.token_ttl.total_seconds())}


@blp.route("/patients", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(schemas.RegisterPatientRequest())
@blp.response(201, schemas.PatientSchema)
@public
def register_patient(body: dict[str, Any]) -> Patient:
    """A patient creates their own account."""
    c = container()
    with c.uow() as uow:
        return services.register_patient(uow, c.hasher, services.RegisterPatient(**body))


@blp.route("/patients/<uuid:patient_id>", methods=["GET"])
@blp.response(200, schemas.PatientSchema)
def get_patient(patient_id: uuid.UUID) -> Patient:
    """A patient sees their own record; staff see any."""
    with container().uow() as uow:
        return services.get_patient(uow, current_principal(), patient_id)


@blp.route("/patients/<uuid:patient_id>", methods=["PATCH"])
@blp.arguments(schemas.UpdatePatientRequest())
@blp.response(200, schemas.PatientSchema)
def update_patient(body: dict[str, Any], patient_id: uuid.UUID) -> Patient:
    """Change contact details or language."""
    with container().uow() as uow:
        return services.update_patient(
            uow, current_principal(), services.UpdatePatient(patient_id=patient_id, **body)
        )


@blp.route("/staff-accounts", methods=["POST"])
@blp.arguments(schemas.StaffAccountRequest())
@blp.response(201, schemas.AccountSchema)
@require_roles("admin")
def create_staff_account(body: dict[str, Any]) -> Account:
    """An admin creates a staff login with its roles."""
    c = container()
    with c.uow() as uow:
        return services.create_staff_account(uow, c.hasher, services.CreateStaffAccount(**body))
