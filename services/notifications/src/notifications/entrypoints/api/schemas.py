"""Request and response schemas: they validate input and generate the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from notifications.domain.channels import Channel
from notifications.domain.composition import LANGUAGES
from notifications.domain.deliveries import AttemptOutcome, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reminders import MAX_HOURS_BEFORE, ReminderPolicy
from notifications.service_layer.preferences import Preferences
from notifications.service_layer.privacy import PatientExport
from notifications.service_layer.queries import LoggedDelivery


class DeliveryQuery(Schema):
    clinic_id = fields.UUID(
        load_default=None,
        metadata={"description": "One clinic's (the caller's own unless organisation-wide)"},
    )
    patient_id = fields.UUID(load_default=None)
    appointment_id = fields.UUID(load_default=None)
    status = fields.Enum(DeliveryStatus, by_value=True, load_default=None)
    channel = fields.Enum(Channel, by_value=True, load_default=None)
    kind = fields.Enum(DeliveryKind, by_value=True, load_default=None)


class AttemptSchema(Schema):
    number = fields.Integer()
    channel = fields.Enum(Channel, by_value=True)
    outcome = fields.Enum(AttemptOutcome, by_value=True)
    started_at = fields.AwareDateTime(format="iso")
    finished_at = fields.AwareDateTime(format="iso", allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    detail = fields.String(allow_none=True, metadata={"description": "Why the attempt failed"})


class DeliverySchema(Schema):
    """A delivery and its attempts (dumped from the service layer's LoggedDelivery)."""

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if isinstance(obj, LoggedDelivery) and attr != "attempts_log":
            obj = obj.delivery
        return super().get_attribute(obj, attr, default)

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
    fallback_of = fields.UUID(
        allow_none=True, metadata={"description": "The SMS delivery this e-mail stands in for"}
    )
    provider_status = fields.String(
        allow_none=True, metadata={"description": "Last provider status callback"}
    )
    attempts_log = fields.Function(
        lambda logged: AttemptSchema(many=True).dump(logged.attempts),
        metadata={"description": "Each attempt at sending, oldest first"},
    )


class ContactSchema(Schema):
    patient_id = fields.UUID()
    first_name = fields.String()
    email = fields.Email()
    phone = fields.String(allow_none=True)
    language = fields.String()
    as_of = fields.AwareDateTime(format="iso", metadata={"description": "When scheduling last changed it"})


_HOURS = validate.Range(min=1, max=MAX_HOURS_BEFORE)


class ReminderPolicyInput(Schema):
    """The whole policy; a null number of hours turns that channel's reminder off."""

    email_hours_before = fields.Integer(required=True, allow_none=True, strict=True, validate=_HOURS)
    sms_hours_before = fields.Integer(required=True, allow_none=True, strict=True, validate=_HOURS)
    skip_when_confirmed = fields.Boolean(
        required=True, metadata={"description": "No reminder once the patient confirmed the appointment"}
    )
    quiet_hours_start = fields.Time(
        required=True, allow_none=True, metadata={"description": "Local time (HH:MM) SMS stop; null: none"}
    )
    quiet_hours_end = fields.Time(required=True, allow_none=True, metadata={"description": "HH:MM"})


class ReminderPolicySchema(Schema):
    clinic_id = fields.UUID()
    email_hours_before = fields.Integer(allow_none=True)
    sms_hours_before = fields.Integer(allow_none=True)
    skip_when_confirmed = fields.Boolean()
    quiet_hours_start = fields.Method("_quiet_start", allow_none=True)
    quiet_hours_end = fields.Method("_quiet_end", allow_none=True)
    updated_at = fields.AwareDateTime(format="iso", allow_none=True)

    def _quiet_start(self, policy: ReminderPolicy) -> str | None:
        return policy.quiet_hours.start.strftime("%H:%M") if policy.quiet_hours else None

    def _quiet_end(self, policy: ReminderPolicy) -> str | None:
        return policy.quiet_hours.end.strftime("%H:%M") if policy.quiet_hours else None


class CallbackToken(Schema):
    token = fields.String(required=True, validate=validate.Length(min=16, max=64))


class StatusCallback(Schema):
    """Twilio's status callback form; it carries many more fields than we use, so the rest are ignored."""

    class Meta:
        unknown = EXCLUDE

    message_sid = fields.String(
        data_key="MessageSid", required=True, validate=validate.Length(min=1, max=200)
    )
    message_status = fields.String(
        data_key="MessageStatus", required=True, validate=validate.Length(min=1, max=40)
    )


class InboundSms(Schema):
    """Twilio's inbound message form; only the sender, the words and the message id are used."""

    class Meta:
        unknown = EXCLUDE

    message_sid = fields.String(data_key="MessageSid", required=True, validate=validate.Length(min=1, max=64))
    from_ = fields.String(data_key="From", required=True, validate=validate.Length(min=1, max=40))
    body = fields.String(data_key="Body", required=True, validate=validate.Length(max=1600))


class PreferencesInput(Schema):
    """The patient's choices (PUT: all of them). Reminders are transactional; promotional messages are
    sent only with express consent."""

    email = fields.Boolean(required=True, metadata={"description": "Messages by e-mail"})
    sms = fields.Boolean(required=True, metadata={"description": "Messages by SMS"})
    language = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "null: as registered"},
    )
    promotional = fields.Boolean(
        required=True, metadata={"description": "Express consent to promotional e-mail"}
    )


class ConsentRecordSchema(Schema):
    channel = fields.Enum(Channel, by_value=True)
    kind = fields.String(attribute="kind.value", metadata={"description": "express, implied or withdrawn"})
    purpose = fields.String(metadata={"description": "transactional or promotional"})
    recorded_at = fields.AwareDateTime(format="iso")
    source = fields.String(metadata={"description": "How it was given or withdrawn"})


class PreferencesSchema(Schema):
    patient_id = fields.UUID(attribute="contact.patient_id")
    email = fields.Function(lambda p: p.contact.wants(Channel.EMAIL))
    sms = fields.Function(lambda p: p.contact.sms_allowed)
    language = fields.String(attribute="contact.message_language")
    preferred_language = fields.String(attribute="contact.preferred_language", allow_none=True)
    promotional = fields.Function(lambda p: p.contact.promotional_consent_at is not None)
    sms_opted_out_at = fields.AwareDateTime(
        format="iso", attribute="contact.sms_opted_out_at", allow_none=True
    )
    email_opted_out_at = fields.AwareDateTime(
        format="iso", attribute="contact.email_opted_out_at", allow_none=True
    )
    consents = fields.List(fields.Nested(ConsentRecordSchema), metadata={"description": "Oldest first"})


class AgendaAddressInput(Schema):
    email = fields.Email(required=True, allow_none=True, metadata={"description": "null: no agenda e-mail"})


class PractitionerSchema(Schema):
    practitioner_id = fields.UUID()
    display_name = fields.String()
    agenda_email = fields.Email(allow_none=True)


class AppointmentCopySchema(Schema):
    appointment_id = fields.UUID()
    clinic_id = fields.UUID()
    practitioner_id = fields.UUID()
    treatment_type_id = fields.UUID()
    starts_at = fields.AwareDateTime(format="iso")
    ends_at = fields.AwareDateTime(format="iso")
    sequence = fields.Integer(metadata={"description": "Version of the appointment last heard of"})
    cancelled = fields.Boolean()
    confirmed_at = fields.AwareDateTime(
        format="iso", allow_none=True, metadata={"description": "When the patient confirmed it by text"}
    )


class InboundTextSchema(Schema):
    """A text the patient sent (only its id and the command recognised are kept: never the words)."""

    message_sid = fields.String()
    command = fields.String(
        allow_none=True, metadata={"description": "confirm, stop, start, help; null: none"}
    )
    received_at = fields.AwareDateTime(format="iso")
    appointment_id = fields.UUID(allow_none=True, metadata={"description": "The appointment it confirmed"})


class PatientExportSchema(Schema):
    """Everything notifications holds about a patient (PIPA BC / PIPEDA right of access). Message texts are
    rendered when sent and not kept, so each message is described by its kind (template), channel,
    recipient, status and times."""

    patient_id = fields.UUID()
    exported_at = fields.AwareDateTime(format="iso")
    contact = fields.Nested(
        ContactSchema, allow_none=True, metadata={"description": "null: no copy from scheduling"}
    )
    preferences = fields.Method(
        "_preferences",
        allow_none=True,
        metadata={"description": "Channels, language and opt-outs (null: no contact copy)"},
    )
    consents = fields.List(
        fields.Nested(ConsentRecordSchema), metadata={"description": "Every consent change, oldest first"}
    )
    deliveries = fields.List(fields.Nested(DeliverySchema), metadata={"description": "Oldest first"})
    appointments = fields.List(
        fields.Nested(AppointmentCopySchema), metadata={"description": "Copies of scheduling's appointments"}
    )
    inbound_sms = fields.List(fields.Nested(InboundTextSchema), metadata={"description": "Oldest first"})

    def _preferences(self, export: PatientExport) -> dict[str, Any] | None:
        if export.contact is None:
            return None
        dumped: dict[str, Any] = PreferencesSchema(exclude=("consents",)).dump(
            Preferences(export.contact, export.consents)
        )
        return dumped
