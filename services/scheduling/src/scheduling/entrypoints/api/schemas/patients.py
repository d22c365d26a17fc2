"""Patients: finding, registering and changing them, who read their record, and their export."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from scheduling.entrypoints.api.schemas.appointments import AppointmentSchema
from scheduling.entrypoints.api.schemas.common import E164, LANGUAGES
from scheduling.entrypoints.api.schemas.waitlist import WaitlistEntrySchema


class PatientSearchQuery(Schema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Words that must all appear in the name, e-mail or phone (empty: everyone)"},
    )


class FindPatientRequest(Schema):
    email = fields.Email(metadata={"description": "Exactly as registered (any case)"})
    phone = fields.String(validate=E164, metadata={"description": "E.164, exactly as registered"})

    @validates_schema
    def _one_of_them(self, data: dict[str, Any], **_: Any) -> None:
        if ("email" in data) == ("phone" in data):
            raise ValidationError("give the e-mail address or the phone number, not both", "email")


class RegisterCallerRequest(Schema):
    email = fields.Email(required=True)
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


class PatientAccessSchema(Schema):
    id = fields.UUID()
    patient_id = fields.UUID()
    actor_account_id = fields.UUID(metadata={"description": "The account that read or changed the record"})
    actor_clinic_id = fields.UUID(
        allow_none=True, metadata={"description": "That account's clinic; null: organisation-wide"}
    )
    action = fields.String(metadata={"description": "`read` or `change`"})
    resource = fields.String(metadata={"description": "What was read or changed (`patient`: the record)"})
    at = fields.AwareDateTime()


class PatientExportSchema(Schema):
    """Everything scheduling holds about one patient (the patient's own copy)."""

    patient = fields.Nested(PatientSchema)
    account_email = fields.String(allow_none=True)
    appointments = fields.List(fields.Nested(AppointmentSchema))
    waitlist_entries = fields.List(fields.Nested(WaitlistEntrySchema))
    access_log = fields.List(fields.Nested(PatientAccessSchema))
