"""Contracts of the events scheduling publishes on the ``scheduling.events`` exchange.

Events carry ids and only the fields consumers need: billing keeps names and addresses for invoices,
notifications keeps contact details and language. Nothing clinical travels in an event.
"""

from marshmallow import Schema, fields, validate

from clinic_shared.events.envelope import CATALOG

ROLES_WHO_CANCEL = ("patient", "staff")
APPOINTMENT_KINDS = ("assessment", "treatment")


class _Contract(Schema):
    """Base for data schemas; the envelope helpers choose strict or lenient loading."""


@CATALOG.register("scheduling.clinic.changed", 1)
class ClinicChangedV1(_Contract):
    clinic_id = fields.UUID(required=True)
    code = fields.String(required=True, validate=validate.Length(min=2, max=10))
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    address = fields.String(required=True)
    phone = fields.String(required=True)
    email = fields.Email(required=True)
    currency = fields.String(required=True, validate=validate.Length(equal=3))


@CATALOG.register("scheduling.practitioner.changed", 1)
class PractitionerChangedV1(_Contract):
    practitioner_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    display_name = fields.String(required=True)
    registration_number = fields.String(required=True)
    active = fields.Boolean(required=True)


@CATALOG.register("scheduling.treatment_type.changed", 1)
class TreatmentTypeChangedV1(_Contract):
    treatment_type_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_KINDS))
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=5, max=480))
    active = fields.Boolean(required=True)


class _PatientContact(_Contract):
    patient_id = fields.UUID(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    email = fields.Email(required=True)
    phone = fields.String(required=True, allow_none=True)
    language = fields.String(required=True, validate=validate.OneOf(("en", "fr")))


@CATALOG.register("scheduling.patient.registered", 1)
class PatientRegisteredV1(_PatientContact):
    pass


@CATALOG.register("scheduling.patient.updated", 1)
class PatientUpdatedV1(_PatientContact):
    pass


class _AppointmentFacts(_Contract):
    appointment_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    practitioner_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_KINDS))
    starts_at = fields.AwareDateTime(required=True, format="iso")
    ends_at = fields.AwareDateTime(required=True, format="iso")
    sequence = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


@CATALOG.register("scheduling.appointment.booked", 1)
class AppointmentBookedV1(_AppointmentFacts):
    pass


@CATALOG.register("scheduling.appointment.cancelled", 1)
class AppointmentCancelledV1(_AppointmentFacts):
    cancelled_at = fields.AwareDateTime(required=True, format="iso")
    cancelled_by = fields.String(required=True, validate=validate.OneOf(ROLES_WHO_CANCEL))
    late = fields.Boolean(required=True)
