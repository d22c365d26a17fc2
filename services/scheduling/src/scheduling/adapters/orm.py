"""Scheduling's tables, mapped imperatively onto the plain domain classes.

PostgreSQL guards against double booking with an exclusion constraint (created in the migrations);
SQLite relies on BEGIN IMMEDIATE serializing the check-then-insert in the service layer.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Interval,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.orm import registry

from clinic_shared.db import UTCDateTime
from clinic_shared.messaging.tables import define_inbox_table, define_outbox_table
from scheduling.domain.model import (
    Account,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Clinic,
    Patient,
    Practitioner,
    TreatmentType,
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


def _str_enum(enum_cls: type, name: str) -> Enum:
    return Enum(
        enum_cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
    )


clinics = Table(
    "clinics",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(10), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("address", Text, nullable=False),
    Column("phone", String(40), nullable=False),
    Column("email", String(254), nullable=False),
    Column("currency", String(3), nullable=False),
)

practitioners = Table(
    "practitioners",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False, index=True),
    Column("display_name", String(200), nullable=False),
    Column("registration_number", String(50), nullable=False),
    Column("ims_qualified", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
)

treatment_types = Table(
    "treatment_types",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False, index=True),
    Column("code", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", _str_enum(AppointmentKind, "appointment_kind"), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("buffer_minutes", Integer, nullable=False),
    Column("late_cancel_hours", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
)

patients = Table(
    "patients",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(20), nullable=True),
    Column("language", String(2), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=True),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=True),
    Column("active", Boolean, nullable=False),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=False),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False),
    Column("treatment_type_id", Uuid, ForeignKey("treatment_types.id"), nullable=False),
    Column("kind", _str_enum(AppointmentKind, "appointment_kind"), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("occupied_until", UTCDateTime, nullable=False),
    Column("late_cancel_window", Interval, nullable=False),
    Column("booked_at", UTCDateTime, nullable=False),
    Column("status", _str_enum(AppointmentStatus, "appointment_status"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("cancelled_by", String(20), nullable=True),
    Column("late_cancellation", Boolean, nullable=False),
    Column("cancel_reason", Text, nullable=True),
    Index("ix_appointments_practitioner_time", "practitioner_id", "starts_at"),
    Index("ix_appointments_patient_time", "patient_id", "starts_at"),
    Index("ix_appointments_clinic_time", "clinic_id", "starts_at"),
)

outbox = define_outbox_table(metadata)
inbox = define_inbox_table(metadata)

# PostgreSQL's last word against double booking (see migrations); SQLite has no equivalent.
APPOINTMENT_OVERLAP_CONSTRAINT = "ex_appointments_practitioner_overlap"

mapper_registry = registry()
_mapped = False


def start_mappers() -> None:
    """Map the domain classes onto the tables (once per process)."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(Clinic, clinics)
    mapper_registry.map_imperatively(Practitioner, practitioners)
    mapper_registry.map_imperatively(TreatmentType, treatment_types)
    mapper_registry.map_imperatively(Patient, patients)
    mapper_registry.map_imperatively(Account, accounts)
    mapper_registry.map_imperatively(Appointment, appointments)
    _mapped = True
