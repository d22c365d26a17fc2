"""Notifications' tables, mapped imperatively onto the plain domain classes.

Contacts, clinics, practitioners and treatment types are local copies fed by scheduling's events;
notifications never reads scheduling's database. ``deliveries`` is the durable log of every message.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    Uuid,
    text,
)
from sqlalchemy.orm import registry

from clinic_shared import tracing
from clinic_shared.db import UTCDateTime, service_metadata, str_enum
from clinic_shared.messaging.tables import define_inbox_table, define_outbox_table
from notifications.domain.appointments import AppointmentCopy
from notifications.domain.channels import Channel
from notifications.domain.consent import ConsentKind, ConsentRecord
from notifications.domain.copies import ClinicInfo, Contact, PractitionerInfo, TreatmentInfo
from notifications.domain.deliveries import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from notifications.domain.inbound import InboundSms
from notifications.domain.kinds import DeliveryKind

metadata = service_metadata()


contacts = Table(
    "contacts",
    metadata,
    Column("patient_id", Uuid, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(20), nullable=True),
    Column("language", String(2), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
    Column("sms_opted_out_at", UTCDateTime, nullable=True),
    Column("email_opted_out_at", UTCDateTime, nullable=True),
    Column("preferred_language", String(2), nullable=True),
    Column("promotional_consent_at", UTCDateTime, nullable=True),
    Index("ix_contacts_phone", "phone"),
)

clinics = Table(
    "clinics",
    metadata,
    Column("clinic_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("address", Text, nullable=False),
    Column("phone", String(40), nullable=False),
    Column("email", String(254), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

practitioners = Table(
    "practitioners",
    metadata,
    Column("practitioner_id", Uuid, primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
    Column("agenda_email", String(254), nullable=True),
    # Where scheduling says they work (ADR 0006: whose staff may change their agenda address).
    Column("clinic_id", Uuid, nullable=True),
)

treatment_types = Table(
    "treatment_types",
    metadata,
    Column("treatment_type_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    # One message per (appointment, kind, channel, sequence): the guard behind the inbox.
    Column("key", String(200), nullable=False, unique=True),
    Column("channel", str_enum(Channel, "delivery_channel"), nullable=False),
    Column("kind", str_enum(DeliveryKind, "delivery_kind", 40), nullable=False),
    Column("status", str_enum(DeliveryStatus, "delivery_status"), nullable=False),
    Column("patient_id", Uuid, nullable=True),
    Column("appointment_id", Uuid, nullable=False),
    # Null for messages about an account (a password-reset link), which no clinic sends.
    Column("clinic_id", Uuid, nullable=True),
    # Null for messages about no single appointment (invoices, payments, plan summaries).
    Column("practitioner_id", Uuid, nullable=True),
    Column("treatment_type_id", Uuid, nullable=True),
    Column("starts_at", UTCDateTime, nullable=True),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("sequence", Integer, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("recipient", String(254), nullable=True),
    Column("provider_message_id", String(200), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("fallback_of", Uuid, nullable=True),
    Column("provider_status", String(40), nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("payload", JSON, nullable=True),
    # The trace of whatever recorded the delivery (the consumer's span: tracing.stored_context, filled in
    # at insert); the dispatcher sends within it, later and on another thread. Not a domain field.
    Column("trace_context", Text, nullable=True, default=tracing.stored_context),
    # The dispatcher's work queue: only unfinished rows are indexed.
    Index(
        "ix_deliveries_unfinished",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'sending')"),
        sqlite_where=text("status IN ('pending', 'sending')"),
    ),
    Index("ix_deliveries_patient_created", "patient_id", "created_at"),
    Index("ix_deliveries_appointment", "appointment_id", "sequence"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("delivery_id", Uuid, nullable=False),
    Column("number", Integer, nullable=False),
    Column("channel", str_enum(Channel, "attempt_channel"), nullable=False),
    Column("outcome", str_enum(AttemptOutcome, "attempt_outcome"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("provider_message_id", String(200), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_delivery_attempts_delivery", "delivery_id", "number"),
)

consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("patient_id", Uuid, nullable=False),
    Column("channel", str_enum(Channel, "consent_channel"), nullable=False),
    Column("kind", str_enum(ConsentKind, "consent_kind"), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("source", String(100), nullable=False),
    Column("purpose", String(20), nullable=False),
    Index("ix_consent_records_patient", "patient_id", "recorded_at"),
)

# Texts patients sent us: ids and the command only (never the number or the words).
inbound_sms = Table(
    "inbound_sms",
    metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("patient_id", Uuid, nullable=True),
    Column("command", String(20), nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("appointment_id", Uuid, nullable=True),
)

appointments = Table(
    "appointments",
    metadata,
    Column("appointment_id", Uuid, primary_key=True),
    Column("patient_id", Uuid, nullable=False),
    Column("clinic_id", Uuid, nullable=False),
    Column("practitioner_id", Uuid, nullable=False),
    Column("treatment_type_id", Uuid, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("confirmed_sequence", Integer, nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Index("ix_appointments_patient_starts", "patient_id", "starts_at"),
    Index("ix_appointments_practitioner_starts", "practitioner_id", "starts_at"),
)

# Translated to and from the frozen ReminderPolicy by the repository (it holds a nested QuietHours).
reminder_policies = Table(
    "reminder_policies",
    metadata,
    Column("clinic_id", Uuid, primary_key=True),
    Column("email_hours_before", Integer, nullable=True),
    Column("sms_hours_before", Integer, nullable=True),
    Column("skip_when_confirmed", Boolean, nullable=False),
    Column("quiet_hours_start", Time, nullable=True),
    Column("quiet_hours_end", Time, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

outbox = define_outbox_table(metadata)
inbox = define_inbox_table(metadata)

mapper_registry = registry()
_mapped = False


def start_mappers() -> None:
    """Map the domain classes onto the tables (once per process)."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(Contact, contacts)
    mapper_registry.map_imperatively(ClinicInfo, clinics)
    mapper_registry.map_imperatively(PractitionerInfo, practitioners)
    mapper_registry.map_imperatively(TreatmentInfo, treatment_types)
    mapper_registry.map_imperatively(Delivery, deliveries)
    mapper_registry.map_imperatively(AppointmentCopy, appointments)
    mapper_registry.map_imperatively(DeliveryAttempt, delivery_attempts)
    mapper_registry.map_imperatively(ConsentRecord, consent_records)
    mapper_registry.map_imperatively(InboundSms, inbound_sms)
    _mapped = True
