"""Request and response schemas: they validate input and generate the OpenAPI document.

Unknown fields in a request body are rejected (marshmallow's default), so nothing can be mass-assigned.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from scheduling.domain.model import AppointmentKind, AppointmentStatus

E164 = validate.Regexp(r"^\+[1-9]\d{7,14}$", error="must be an E.164 phone number such as +16045550123")
LANGUAGES = validate.OneOf(["en", "fr"])
PASSWORD = validate.Length(min=10, max=200)


class TokenRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class RegisterPatientRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(load_default=None, allow_none=True, validate=E164)
    language = fields.String(load_default="en", validate=LANGUAGES)


class UpdatePatientRequest(Schema):
    first_name = fields.String(validate=validate.Length(min=1, max=100))
    last_name = fields.String(validate=validate.Length(min=1, max=100))
    phone = fields.String(validate=E164)
    language = fields.String(validate=LANGUAGES)


class PatientSchema(Schema):
    id = fields.UUID(dump_only=True)
    first_name = fields.String()
    last_name = fields.String()
    email = fields.Email()
    phone = fields.String(allow_none=True)
    language = fields.String()


class StaffAccountRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    roles = fields.List(
        fields.String(validate=validate.OneOf(["practitioner", "front_desk", "billing", "admin"])),
        required=True,
        validate=validate.Length(min=1),
    )
    clinic_id = fields.UUID(load_default=None, allow_none=True)
    practitioner_id = fields.UUID(load_default=None, allow_none=True)


class AccountSchema(Schema):
    id = fields.UUID()
    email = fields.Email()
    roles = fields.List(fields.String())
    clinic_id = fields.UUID(allow_none=True)
    practitioner_id = fields.UUID(allow_none=True)
    patient_id = fields.UUID(allow_none=True)


class ClinicRequest(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{2,10}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    timezone = fields.String(required=True, validate=validate.Length(min=1, max=64))
    address = fields.String(required=True, validate=validate.Length(min=1, max=500))
    phone = fields.String(required=True, validate=E164)
    email = fields.Email(required=True)
    currency = fields.String(load_default="CAD", validate=validate.Regexp(r"^[A-Z]{3}$"))


class ClinicSchema(ClinicRequest):
    id = fields.UUID(dump_only=True)


class PractitionerRequest(Schema):
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    registration_number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    ims_qualified = fields.Boolean(load_default=False)


class PractitionerSchema(PractitionerRequest):
    id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(dump_only=True)
    active = fields.Boolean(dump_only=True)


class TreatmentTypeRequest(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,40}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Enum(AppointmentKind, by_value=True, required=True)
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=5, max=480))
    buffer_minutes = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=120))
    late_cancel_hours = fields.Integer(load_default=24, strict=True, validate=validate.Range(min=0, max=168))


class TreatmentTypeSchema(TreatmentTypeRequest):
    id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(dump_only=True)
    active = fields.Boolean(dump_only=True)


class BookAppointmentRequest(Schema):
    clinic_id = fields.UUID(required=True)
    practitioner_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    starts_at = fields.AwareDateTime(required=True, format="iso")
    patient_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "Staff only"})


class CancelAppointmentRequest(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class AppointmentSchema(Schema):
    id = fields.UUID()
    clinic_id = fields.UUID()
    practitioner_id = fields.UUID()
    patient_id = fields.UUID()
    treatment_type_id = fields.UUID()
    kind = fields.Enum(AppointmentKind, by_value=True)
    status = fields.Enum(AppointmentStatus, by_value=True)
    starts_at = fields.AwareDateTime(format="iso")
    ends_at = fields.AwareDateTime(format="iso")
    booked_at = fields.AwareDateTime(format="iso")
    sequence = fields.Integer()
    cancelled_at = fields.AwareDateTime(format="iso", allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    late_cancellation = fields.Boolean()


class AppointmentQuery(Schema):
    patient_id = fields.UUID(load_default=None, metadata={"description": "Staff only: filter by patient"})
