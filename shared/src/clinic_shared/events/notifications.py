"""Contracts of the events notifications publishes on the ``notifications.events`` exchange."""

from marshmallow import Schema, fields, validate

from clinic_shared.events.envelope import CATALOG

CHANNELS = ("email", "sms")


class _Contract(Schema):
    """Base for data schemas; the envelope helpers choose strict or lenient loading."""


@CATALOG.register("notifications.appointment.confirmation_received", 1)
class AppointmentConfirmationReceivedV1(_Contract):
    """A patient answered a reminder confirming they will attend (e.g. replied C or CONFIRM by SMS)."""

    appointment_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    received_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("notifications.contact.opted_out", 1)
class ContactOptedOutV1(_Contract):
    """A patient withdrew consent for a channel (e.g. replied STOP); kept on record by every service."""

    patient_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    opted_out_at = fields.AwareDateTime(required=True, format="iso")
