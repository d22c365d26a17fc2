"""Request and response schemas: they validate input and generate the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields

from notifications.domain.model import Channel, DeliveryKind, DeliveryStatus


class DeliveryQuery(Schema):
    patient_id = fields.UUID(load_default=None)
    appointment_id = fields.UUID(load_default=None)
    status = fields.Enum(DeliveryStatus, by_value=True, load_default=None)
    channel = fields.Enum(Channel, by_value=True, load_default=None)


class DeliverySchema(Schema):
    id = fields.UUID()
    key = fields.String(metadata={"description": "Unique per appointment, kind, channel and sequence"})
    channel = fields.Enum(Channel, by_value=True)
    kind = fields.Enum(DeliveryKind, by_value=True)
    status = fields.Enum(DeliveryStatus, by_value=True)
    patient_id = fields.UUID()
    appointment_id = fields.UUID()
    sequence = fields.Integer()
    starts_at = fields.AwareDateTime(format="iso", metadata={"description": "Appointment start (UTC)"})
    recipient = fields.String(allow_none=True, metadata={"description": "Address used by the last attempt"})
    message_id = fields.String(metadata={"description": "Message-ID of the e-mail (stable across resends)"})
    provider_message_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime(format="iso")
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")
    sent_at = fields.AwareDateTime(format="iso", allow_none=True)


class ContactSchema(Schema):
    patient_id = fields.UUID()
    first_name = fields.String()
    email = fields.Email()
    phone = fields.String(allow_none=True)
    language = fields.String()
    as_of = fields.AwareDateTime(format="iso", metadata={"description": "When scheduling last changed it"})
