"""Notifications' tables, mapped imperatively onto the plain domain classes.

Contacts, clinics, practitioners and treatment types are local copies fed by scheduling's events;
notifications never reads scheduling's database. ``deliveries`` is the durable log of every message.
"""

from __future__ import annotations

from sqlalchemy import Column, Enum, Index, Integer, MetaData, String, Table, Text, Uuid, text
from sqlalchemy.orm import registry

from clinic_shared.db import UTCDateTime
from clinic_shared.messaging.tables import define_inbox_table, define_outbox_table
from notifications.domain.model import (
    Channel,
    ClinicInfo,
    Contact,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    PractitionerInfo,
    TreatmentInfo,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _str_enum(enum_cls: type, name: str, length: int = 20) -> Enum:
    return Enum(
        enum_cls, name=name, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


contacts = Table(
    "contacts",
    metadata,
    Column("patient_id", Uuid, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(20), nullable=True),
    Column("language", String(2), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
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
    Column("channel", _str_enum(Channel, "delivery_channel"), nullable=False),
    Column("kind", _str_enum(DeliveryKind, "delivery_kind", 40), nullable=False),
    Column("status", _str_enum(DeliveryStatus, "delivery_status"), nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("appointment_id", Uuid, nullable=False),
    Column("clinic_id", Uuid, nullable=False),
    Column("practitioner_id", Uuid, nullable=False),
    Column("treatment_type_id", Uuid, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
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
    _mapped = True
