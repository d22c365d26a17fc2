"""Clinics, their practitioners and treatment types."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from scheduling.domain.model import AppointmentKind
from scheduling.entrypoints.api.schemas.common import E164


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
    min_notice_minutes = fields.Integer(dump_only=True)
    horizon_days = fields.Integer(dump_only=True)
    slot_step_minutes = fields.Integer(dump_only=True)


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
