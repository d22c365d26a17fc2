"""Scheduling's tables, mapped imperatively onto the plain domain classes.

PostgreSQL guards against double booking with an exclusion constraint (created in the migrations);
SQLite relies on BEGIN IMMEDIATE serializing the check-then-insert in the service layer.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Interval,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import registry

from clinic_shared.db import UTCDateTime, service_metadata, str_enum
from clinic_shared.messaging.tables import define_inbox_table, define_outbox_table
from scheduling.domain.auth import PasswordResetToken, RefreshToken, SignUpRequest
from scheduling.domain.availability import Closure, OpeningHours, Room, TimeOff, WorkingHours
from scheduling.domain.calendar import CalendarFeed, FeedOwner
from scheduling.domain.model import (
    Account,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Clinic,
    ClinicPatient,
    Patient,
    PatientAccess,
    Practitioner,
    Suitability,
    TreatmentType,
)
from scheduling.domain.plans import PlanStatus, TreatmentPlan
from scheduling.domain.waitlist import WaitlistEntry, WaitlistStatus
from scheduling.service_layer.ports import Guard

metadata = service_metadata()


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
    Column("min_notice_minutes", Integer, nullable=False, server_default=text("60")),
    Column("horizon_days", Integer, nullable=False, server_default=text("180")),
    Column("slot_step_minutes", Integer, nullable=False, server_default=text("15")),
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
    Column("kind", str_enum(AppointmentKind, "appointment_kind"), nullable=False),
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

# Patients on a clinic's list before (or besides) any visit there (domain.model.ClinicPatient).
clinic_patients = Table(
    "clinic_patients",
    metadata,
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), primary_key=True),
    Column("patient_id", Uuid, ForeignKey("patients.id"), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
    Column("added_by", Uuid, nullable=False),
)

# Refresh tokens and password-reset links: only SHA-256 digests of the tokens (see domain.auth).
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

patient_access_log = Table(
    "patient_access_log",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("patient_id", Uuid, nullable=False),
    Column("actor_account_id", Uuid, nullable=False),
    Column("actor_clinic_id", Uuid, nullable=True),
    Column("action", String(10), nullable=False),
    Column("resource", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_patient_access_log_patient_at", "patient_id", "at"),
)

password_reset_tokens = Table(
    "password_reset_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    # The account's newest link is the only one that works.
    Index("ix_password_reset_tokens_account_created", "account_id", "created_at"),
)

# Sign-ups waiting for their e-mail address to be confirmed (see domain.auth.SignUpRequest).
sign_up_requests = Table(
    "sign_up_requests",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("phone", String(20), nullable=True),
    Column("language", String(2), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("used_at", UTCDateTime, nullable=True),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=False),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False),
    Column("treatment_type_id", Uuid, ForeignKey("treatment_types.id"), nullable=False),
    Column("kind", str_enum(AppointmentKind, "appointment_kind"), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("occupied_until", UTCDateTime, nullable=False),
    Column("late_cancel_window", Interval, nullable=False),
    Column("booked_at", UTCDateTime, nullable=False),
    Column("status", str_enum(AppointmentStatus, "appointment_status"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("cancelled_by", String(20), nullable=True),
    Column("late_cancellation", Boolean, nullable=False),
    Column("cancel_reason", Text, nullable=True),
    Column("room_id", Uuid, ForeignKey("rooms.id"), nullable=True),
    Column("plan_id", Uuid, ForeignKey("treatment_plans.id"), nullable=True, index=True),
    Column("fee_waived", Boolean, nullable=False, server_default=false()),
    Column("arrived_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("no_show_at", UTCDateTime, nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=True),
    # No foreign key: waitlist_entries already references appointments, and mutual keys would make the
    # tables unsortable for creation and drops. Entries are never deleted.
    Column("waitlist_entry_id", Uuid, nullable=True),
    Column("plan_index", Integer, nullable=True),
    # Bumped by SQLAlchemy on every UPDATE, which also compares it (see start_mappers); the API's ETag.
    Column("version", Integer, nullable=False, server_default=text("1")),
    # Staff booked this one knowing it overlaps the patient's other appointments (the patient rule skips it).
    Column("allow_patient_overlap", Boolean, nullable=False, server_default=false()),
    Index("ix_appointments_room_time", "room_id", "starts_at"),
    Index("ix_appointments_practitioner_time", "practitioner_id", "starts_at"),
    Index("ix_appointments_patient_time", "patient_id", "starts_at"),
    Index("ix_appointments_clinic_time", "clinic_id", "starts_at"),
    # One entry, at most one live offer: a second hold for it cannot be written, whatever the race.
    Index(
        "uq_appointments_one_live_hold_per_entry",
        "waitlist_entry_id",
        unique=True,
        postgresql_where=text("status = 'proposed'"),
        sqlite_where=text("status = 'proposed'"),
    ),
    # The sweep finds lapsed holds without reading every appointment.
    Index(
        "ix_appointments_holds_booked_at",
        "booked_at",
        postgresql_where=text("status = 'proposed'"),
        sqlite_where=text("status = 'proposed'"),
    ),
)

opening_hours = Table(
    "opening_hours",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False, index=True),
    Column("weekday", Integer, nullable=False),
    Column("starts", Time, nullable=False),
    Column("ends", Time, nullable=False),
)

closures = Table(
    "closures",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("reason", String(200), nullable=False),
    Index("ix_closures_clinic_dates", "clinic_id", "starts_on"),
)

working_hours = Table(
    "working_hours",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=False, index=True),
    Column("weekday", Integer, nullable=False),
    Column("starts", Time, nullable=False),
    Column("ends", Time, nullable=False),
)

time_off = Table(
    "time_off",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("reason", String(200), nullable=False),
    Index("ix_time_off_practitioner_time", "practitioner_id", "starts_at"),
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("active", Boolean, nullable=False),
    UniqueConstraint("clinic_id", "name", name="uq_rooms_clinic_name"),
)

waitlist_entries = Table(
    "waitlist_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False),
    Column("treatment_type_id", Uuid, ForeignKey("treatment_types.id"), nullable=False),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=True),
    Column("not_before", UTCDateTime, nullable=False),
    Column("not_after", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", str_enum(WaitlistStatus, "waitlist_status"), nullable=False),
    Column("offer_appointment_id", Uuid, ForeignKey("appointments.id"), nullable=True),
    Column("offer_expires_at", UTCDateTime, nullable=True),
    Column("appointment_id", Uuid, ForeignKey("appointments.id"), nullable=True),
    Index("ix_waitlist_entries_clinic_status", "clinic_id", "status", "created_at"),
)

calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_kind", str_enum(FeedOwner, "feed_owner"), nullable=False),
    Column("owner_id", Uuid, nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

treatment_plans = Table(
    "treatment_plans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False, index=True),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=False),
    Column("treatment_type_id", Uuid, ForeignKey("treatment_types.id"), nullable=False),
    Column("total_sessions", Integer, nullable=False),
    Column("every_weeks", Integer, nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("local_time", Time, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", str_enum(PlanStatus, "plan_status"), nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("cancelled_at", UTCDateTime, nullable=True),
)

suitabilities = Table(
    "suitabilities",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, ForeignKey("clinics.id"), nullable=False),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False),
    Column("assessment_id", Uuid, ForeignKey("appointments.id"), nullable=False, unique=True),
    Column("practitioner_id", Uuid, ForeignKey("practitioners.id"), nullable=False),
    Column("suitable", Boolean, nullable=False),
    Column("consent_recorded", Boolean, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_suitabilities_patient_clinic", "patient_id", "clinic_id"),
)

outbox = define_outbox_table(metadata)
inbox = define_inbox_table(metadata)

# PostgreSQL's last word against double booking (see migrations); SQLite has no equivalent.
APPOINTMENT_OVERLAP_CONSTRAINT = Guard.PRACTITIONER.value
ROOM_OVERLAP_CONSTRAINT = Guard.ROOM.value
PATIENT_OVERLAP_CONSTRAINT = Guard.PATIENT.value

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
    mapper_registry.map_imperatively(ClinicPatient, clinic_patients)
    # A compare-and-set backstop behind the row lock: an UPDATE of a copy read before another change
    # committed matches no row and raises StaleDataError instead of overwriting that change.
    mapper_registry.map_imperatively(Appointment, appointments, version_id_col=appointments.c.version)
    mapper_registry.map_imperatively(OpeningHours, opening_hours)
    mapper_registry.map_imperatively(Closure, closures)
    mapper_registry.map_imperatively(WorkingHours, working_hours)
    mapper_registry.map_imperatively(TimeOff, time_off)
    mapper_registry.map_imperatively(Room, rooms)
    mapper_registry.map_imperatively(Suitability, suitabilities)
    mapper_registry.map_imperatively(TreatmentPlan, treatment_plans)
    mapper_registry.map_imperatively(WaitlistEntry, waitlist_entries)
    mapper_registry.map_imperatively(CalendarFeed, calendar_feeds)
    mapper_registry.map_imperatively(RefreshToken, refresh_tokens)
    mapper_registry.map_imperatively(PatientAccess, patient_access_log)
    mapper_registry.map_imperatively(PasswordResetToken, password_reset_tokens)
    mapper_registry.map_imperatively(SignUpRequest, sign_up_requests)
    _mapped = True
