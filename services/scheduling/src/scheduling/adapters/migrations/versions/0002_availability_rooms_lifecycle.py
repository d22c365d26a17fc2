"""availability, rooms, suitability, treatment plans, waitlist, calendar feeds, lifecycle columns

Rooms get their own exclusion constraint in PostgreSQL, like practitioners in 0001.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:47:35.587314
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_shared.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name=op.f("fk_closures_clinic_id_clinics")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closures")),
    )
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.create_index("ix_closures_clinic_dates", ["clinic_id", "starts_on"], unique=False)

    op.create_table(
        "opening_hours",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_opening_hours_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_hours")),
    )
    with op.batch_alter_table("opening_hours", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_hours_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "rooms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name=op.f("fk_rooms_clinic_id_clinics")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
        sa.UniqueConstraint("clinic_id", "name", name="uq_rooms_clinic_name"),
    )
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rooms_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "time_off",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioners.id"], name=op.f("fk_time_off_practitioner_id_practitioners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    with op.batch_alter_table("time_off", schema=None) as batch_op:
        batch_op.create_index("ix_time_off_practitioner_time", ["practitioner_id", "starts_at"], unique=False)

    op.create_table(
        "working_hours",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_working_hours_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_working_hours")),
    )
    with op.batch_alter_table("working_hours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_working_hours_practitioner_id"), ["practitioner_id"], unique=False
        )

    op.create_table(
        "suitabilities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("suitable", sa.Boolean(), nullable=False),
        sa.Column("consent_recorded", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["appointments.id"], name=op.f("fk_suitabilities_assessment_id_appointments")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_suitabilities_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_suitabilities_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_suitabilities_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suitabilities")),
        sa.UniqueConstraint("assessment_id", name=op.f("uq_suitabilities_assessment_id")),
    )
    with op.batch_alter_table("suitabilities", schema=None) as batch_op:
        batch_op.create_index("ix_suitabilities_patient_clinic", ["patient_id", "clinic_id"], unique=False)

    op.create_table(
        "treatment_plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("treatment_type_id", sa.Uuid(), nullable=False),
        sa.Column("total_sessions", sa.Integer(), nullable=False),
        sa.Column("every_weeks", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "completed", "cancelled", name="plan_status", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("completed_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_treatment_plans_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_treatment_plans_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_treatment_plans_practitioner_id_practitioners"),
        ),
        sa.ForeignKeyConstraint(
            ["treatment_type_id"],
            ["treatment_types.id"],
            name=op.f("fk_treatment_plans_treatment_type_id_treatment_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_plans")),
    )
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_treatment_plans_patient_id"), ["patient_id"], unique=False)

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("room_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("plan_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("fee_waived", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(
            sa.Column("arrived_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("completed_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("no_show_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("confirmed_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_appointments_room_time", ["room_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_plan_id"), ["plan_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_appointments_plan_id_treatment_plans"), "treatment_plans", ["plan_id"], ["id"]
        )
        batch_op.create_foreign_key(batch_op.f("fk_appointments_room_id_rooms"), "rooms", ["room_id"], ["id"])

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("min_notice_minutes", sa.Integer(), server_default=sa.text("60"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("horizon_days", sa.Integer(), server_default=sa.text("180"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("slot_step_minutes", sa.Integer(), server_default=sa.text("15"), nullable=False)
        )

    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("treatment_type_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("not_before", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "offered",
                "booked",
                "expired",
                "withdrawn",
                name="waitlist_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("offer_appointment_id", sa.Uuid(), nullable=True),
        sa.Column("offer_expires_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_waitlist_entries_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["offer_appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_offer_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_waitlist_entries_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_waitlist_entries_practitioner_id_practitioners"),
        ),
        sa.ForeignKeyConstraint(
            ["treatment_type_id"],
            ["treatment_types.id"],
            name=op.f("fk_waitlist_entries_treatment_type_id_treatment_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entries_clinic_status", ["clinic_id", "status", "created_at"], unique=False
        )

    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "owner_kind",
            sa.Enum("patient", "practitioner", name="feed_owner", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_feeds_owner_id"), ["owner_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Two live appointments may not hold one room at the same time either.
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_room_overlap "
            "EXCLUDE USING gist (room_id WITH =, tstzrange(starts_at, occupied_until, '[)') WITH &&) "
            "WHERE (status <> 'cancelled' AND room_id IS NOT NULL)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE appointments DROP CONSTRAINT ex_appointments_room_overlap")
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_owner_id"))

    op.drop_table("calendar_feeds")
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_waitlist_entries_clinic_status")

    op.drop_table("waitlist_entries")
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("slot_step_minutes")
        batch_op.drop_column("horizon_days")
        batch_op.drop_column("min_notice_minutes")

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_appointments_room_id_rooms"), type_="foreignkey")
        batch_op.drop_index("ix_appointments_room_time")
        batch_op.drop_constraint(batch_op.f("fk_appointments_plan_id_treatment_plans"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_appointments_plan_id"))
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("no_show_at")
        batch_op.drop_column("completed_at")
        batch_op.drop_column("arrived_at")
        batch_op.drop_column("fee_waived")
        batch_op.drop_column("plan_id")
        batch_op.drop_column("room_id")

    with op.batch_alter_table("suitabilities", schema=None) as batch_op:
        batch_op.drop_index("ix_suitabilities_patient_clinic")

    op.drop_table("suitabilities")
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_plans_patient_id"))

    op.drop_table("treatment_plans")
    with op.batch_alter_table("working_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_working_hours_practitioner_id"))

    op.drop_table("working_hours")
    with op.batch_alter_table("time_off", schema=None) as batch_op:
        batch_op.drop_index("ix_time_off_practitioner_time")

    op.drop_table("time_off")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rooms_clinic_id"))

    op.drop_table("rooms")
    with op.batch_alter_table("opening_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_hours_clinic_id"))

    op.drop_table("opening_hours")
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.drop_index("ix_closures_clinic_dates")

    op.drop_table("closures")
