"""Signing in, signing up, passwords and staff accounts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from scheduling.entrypoints.api.schemas.common import E164, LANGUAGES
from scheduling.entrypoints.api.schemas.patients import PatientSchema

PASSWORD = validate.Length(min=10, max=200)


class TokenRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenResponse(Schema):
    access_token = fields.String(
        required=True, metadata={"description": "EdDSA-signed JWT; send as `Authorization: Bearer ...`"}
    )
    token_type = fields.String(required=True, metadata={"description": "Always `Bearer`"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the access token is valid"})
    refresh_token = fields.String(
        required=True,
        metadata={
            "description": "Opaque, single use: trade it at POST /auth/refresh for the next pair. Keep it "
            "server-side; presenting a used one again revokes the whole session"
        },
    )
    refresh_expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds the refresh token is valid if not used before"}
    )


class RefreshTokenRequest(Schema):
    refresh_token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The refresh token from the last POST /auth/token or /auth/refresh"},
    )


class PasswordResetRequest(Schema):
    email = fields.Email(required=True, metadata={"description": "The address the account signs in with"})


class PasswordResetAccepted(Schema):
    message = fields.String(
        required=True, metadata={"description": "The same words whether or not the address has an account"}
    )


class PasswordResetConfirmRequest(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        load_only=True,
        metadata={"description": "The token from the e-mailed link (`/reset-password/{token}`)"},
    )
    password = fields.String(
        required=True,
        validate=PASSWORD,
        load_only=True,
        metadata={"description": "The new password (10 to 200 characters, as at registration)"},
    )


class PasswordChangeRequest(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200), load_only=True)
    new_password = fields.String(
        required=True,
        validate=PASSWORD,
        load_only=True,
        metadata={"description": "The new password (10 to 200 characters, as at registration)"},
    )


class RegisterPatientRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(load_default=None, allow_none=True, validate=E164)
    language = fields.String(load_default="en", validate=LANGUAGES)


class SignUpAccepted(Schema):
    message = fields.String(
        required=True, metadata={"description": "The same words whether or not the address has an account"}
    )


class SignUpConfirmRequest(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        load_only=True,
        metadata={"description": "The token from the e-mailed link (`/sign-up/confirm/{token}`)"},
    )


class SignedUpSchema(TokenResponse):
    patient = fields.Nested(PatientSchema, required=True, metadata={"description": "The new patient"})


class StaffAccountRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    roles = fields.List(
        fields.String(validate=validate.OneOf(["practitioner", "front_desk", "billing", "admin"])),
        required=True,
        validate=validate.Length(min=1),
    )
    clinic_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The clinic the account's roles hold in (a clinic's admin: their own clinic). "
            "Give this or `organisation_wide: true`, exactly one (422 otherwise)."
        },
    )
    organisation_wide = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The roles hold in every clinic of the organisation (no `clinic_id`); only an "
            "organisation-wide admin may create such an account (403 otherwise)."
        },
    )
    practitioner_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "The practitioner this login is (of the account's clinic)"},
    )


class AccountSchema(Schema):
    id = fields.UUID()
    email = fields.Email()
    roles = fields.List(fields.String())
    clinic_id = fields.UUID(
        allow_none=True,
        metadata={"description": "The account's clinic; null: organisation-wide staff (or a patient)"},
    )
    practitioner_id = fields.UUID(allow_none=True)
    patient_id = fields.UUID(allow_none=True)
    active = fields.Boolean(metadata={"description": "False: disabled, it cannot sign in"})
