"""Billing's tables, mapped imperatively onto the plain domain classes.

The copies of scheduling's records have no foreign keys: their events may arrive in any order. Money is
two columns (integer minor units and an ISO currency) mapped onto the Money value object. One charge per
(appointment, kind) is a unique constraint: the database's own guard against a duplicated booking.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Enum,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import composite, registry

from billing.domain.model import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Clinic,
    Patient,
    Practitioner,
    PriceListEntry,
    TreatmentType,
)
from billing.domain.money import Money
from clinic_shared.db import UTCDateTime
from clinic_shared.messaging.tables import define_inbox_table, define_outbox_table

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
    # Not a native enum and no CHECK: a later kind or status needs no migration.
    return Enum(
        enum_cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
    )


clinics = Table(
    "clinics",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("address", Text, nullable=False),
    Column("phone", String(40), nullable=False),
    Column("email", String(254), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

practitioners = Table(
    "practitioners",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False, index=True),
    Column("display_name", String(200), nullable=False),
    Column("registration_number", String(50), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

treatment_types = Table(
    "treatment_types",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False, index=True),
    Column("code", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

patients = Table(
    "patients",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(40), nullable=True),
    Column("language", String(2), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

price_list_entries = Table(
    "price_list_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("treatment_type_id", Uuid, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "clinic_id", "treatment_type_id", "effective_from", name="uq_price_list_entries_effective_date"
    ),
    CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
)

charges = Table(
    "charges",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", _str_enum(ChargeKind, "charge_kind"), nullable=False),
    Column("appointment_id", Uuid, nullable=False),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("practitioner_id", Uuid, nullable=False),
    Column("treatment_type_id", Uuid, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("service_date", Date, nullable=False),
    Column("amount_cents", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("status", _str_enum(ChargeStatus, "charge_status"), nullable=False),
    Column("appointment_sequence", Integer, nullable=False),
    Column("late_cancellation", Boolean, nullable=False),
    Column("aborted_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("appointment_id", "kind", name="uq_charges_appointment_kind"),
    CheckConstraint("(amount_cents IS NULL) = (currency IS NULL)", name="amount_has_currency"),
    Index("ix_charges_patient_time", "patient_id", "starts_at"),
    Index("ix_charges_awaiting_price", "clinic_id", "treatment_type_id", "service_date"),
    Index("ix_charges_status", "status"),
)

outbox = define_outbox_table(metadata)
inbox = define_inbox_table(metadata)

CHARGE_BUSINESS_KEY = "uq_charges_appointment_kind"

mapper_registry = registry()
_mapped = False


def _no_money(cents: int | None, currency: str | None) -> bool:
    return cents is None and currency is None


def start_mappers() -> None:
    """Map the domain classes onto the tables (once per process)."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(Clinic, clinics)
    mapper_registry.map_imperatively(Practitioner, practitioners)
    mapper_registry.map_imperatively(TreatmentType, treatment_types)
    mapper_registry.map_imperatively(Patient, patients)
    mapper_registry.map_imperatively(
        PriceListEntry,
        price_list_entries,
        properties={
            "price": composite(Money, price_list_entries.c.amount_cents, price_list_entries.c.currency)
        },
    )
    mapper_registry.map_imperatively(
        Charge,
        charges,
        properties={
            "amount": composite(Money, charges.c.amount_cents, charges.c.currency, return_none_on=_no_money)
        },
    )
    _mapped = True
