"""Repositories: how the service layer finds and stores domain objects in one session."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Column, and_, delete, exists, func, insert, or_, select
from sqlalchemy.orm import Session

from clinic_shared.db import counted_page
from notifications.adapters import claim_statements
from notifications.adapters.orm import (
    appointments,
    clinics,
    consent_records,
    contacts,
    deliveries,
    delivery_attempts,
    practitioners,
    reminder_policies,
    treatment_types,
)
from notifications.adapters.orm import (
    inbound_sms as inbound_sms_table,
)
from notifications.domain.appointments import AppointmentCopy
from notifications.domain.consent import ConsentRecord
from notifications.domain.copies import (
    ClinicInfo,
    Contact,
    PractitionerInfo,
    ReferenceCopies,
    TreatmentInfo,
)
from notifications.domain.deliveries import Delivery, DeliveryAttempt, DeliveryStatus
from notifications.domain.inbound import InboundSms
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reminders import QuietHours, ReminderPolicy

T = TypeVar("T")

# A delivery's domain fields: what finish_claim compares between the claimed and the finished delivery.
_DELIVERY_FIELDS = tuple(field.name for field in dataclasses.fields(Delivery))


class SqlAlchemyRepository:
    """Generic get/add plus the queries notifications needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entity: object) -> None:
        self.session.add(entity)

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        return self.session.get(cls, entity_id)

    def contact(self, patient_id: uuid.UUID) -> Contact | None:
        return self.session.get(Contact, patient_id)

    def lock_contact(self, patient_id: uuid.UUID) -> None:
        if self.session.get_bind().dialect.name != "postgresql":
            return  # SQLite serializes writers already
        self.session.execute(select(func.pg_advisory_xact_lock(patient_id.int % 2**64 - 2**63)))

    def clinic(self, clinic_id: uuid.UUID) -> ClinicInfo | None:
        return self.session.get(ClinicInfo, clinic_id)

    def practitioner(self, practitioner_id: uuid.UUID) -> PractitionerInfo | None:
        return self.session.get(PractitionerInfo, practitioner_id)

    def treatment_type(self, treatment_type_id: uuid.UUID) -> TreatmentInfo | None:
        return self.session.get(TreatmentInfo, treatment_type_id)

    def reference_copies(
        self,
        *,
        patient_ids: Collection[uuid.UUID],
        clinic_ids: Collection[uuid.UUID],
        practitioner_ids: Collection[uuid.UUID],
        treatment_type_ids: Collection[uuid.UUID],
    ) -> ReferenceCopies:
        """One query per kind of copy (none for no ids), however many deliveries refer to them."""
        return ReferenceCopies(
            contacts=self._copies(Contact, contacts.c.patient_id, patient_ids),
            clinics=self._copies(ClinicInfo, clinics.c.clinic_id, clinic_ids),
            practitioners=self._copies(PractitionerInfo, practitioners.c.practitioner_id, practitioner_ids),
            treatments=self._copies(TreatmentInfo, treatment_types.c.treatment_type_id, treatment_type_ids),
        )

    def _copies(self, cls: type[T], key: Column[uuid.UUID], ids: Collection[uuid.UUID]) -> dict[uuid.UUID, T]:
        if not ids:
            return {}
        found = self.session.scalars(select(cls).where(key.in_(list(ids)))).all()
        return {getattr(copy, key.key): copy for copy in found}

    def patient_known_at(self, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> bool:
        """Whether the patient has a relationship with the clinic (ADR 0006): a message about it (a
        booking, a waitlist offer, an invoice...) or an appointment there. One query."""
        d, a = deliveries, appointments
        query = select(
            or_(
                exists().where(d.c.patient_id == patient_id, d.c.clinic_id == clinic_id),
                exists().where(a.c.patient_id == patient_id, a.c.clinic_id == clinic_id),
            )
        )
        return bool(self.session.scalar(query))

    def contacts_by_phone(self, phone: str) -> Sequence[Contact]:
        return self.session.scalars(
            select(Contact).where(contacts.c.phone == phone).order_by(contacts.c.patient_id)
        ).all()

    def consent_records(self, patient_id: uuid.UUID) -> Sequence[ConsentRecord]:
        t = consent_records
        query = select(ConsentRecord).where(t.c.patient_id == patient_id).order_by(t.c.recorded_at, t.c.id)
        return self.session.scalars(query).all()

    def inbound_sms(self, message_sid: str) -> InboundSms | None:
        return self.session.get(InboundSms, message_sid)

    def inbound_sms_of(self, patient_id: uuid.UUID) -> Sequence[InboundSms]:
        t = inbound_sms_table
        query = (
            select(InboundSms).where(t.c.patient_id == patient_id).order_by(t.c.received_at, t.c.message_sid)
        )
        return self.session.scalars(query).all()

    def appointments_of(self, patient_id: uuid.UUID) -> Sequence[AppointmentCopy]:
        t = appointments
        query = (
            select(AppointmentCopy)
            .where(t.c.patient_id == patient_id)
            .order_by(t.c.starts_at, t.c.appointment_id)
        )
        return self.session.scalars(query).all()

    def deliveries_of(self, patient_id: uuid.UUID) -> Sequence[Delivery]:
        t = deliveries
        query = select(Delivery).where(t.c.patient_id == patient_id).order_by(t.c.created_at, t.c.id)
        return self.session.scalars(query).all()

    def next_appointment(self, patient_ids: Sequence[uuid.UUID], after: datetime) -> AppointmentCopy | None:
        t = appointments
        query = (
            select(AppointmentCopy)
            .where(t.c.patient_id.in_(list(patient_ids)), t.c.starts_at > after, t.c.cancelled.is_(False))
            .order_by(t.c.starts_at)
            .limit(1)
        )
        return self.session.scalars(query).first()

    def latest_appointment(self, patient_ids: Sequence[uuid.UUID]) -> AppointmentCopy | None:
        t = appointments
        query = (
            select(AppointmentCopy)
            .where(t.c.patient_id.in_(list(patient_ids)))
            .order_by(t.c.starts_at.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()

    def appointments_between(
        self, clinic_id: uuid.UUID, start: datetime, end: datetime
    ) -> Sequence[AppointmentCopy]:
        t = appointments
        query = (
            select(AppointmentCopy)
            .where(
                t.c.clinic_id == clinic_id,
                t.c.starts_at >= start,
                t.c.starts_at < end,
                t.c.cancelled.is_(False),
            )
            .order_by(t.c.practitioner_id, t.c.starts_at)
        )
        return self.session.scalars(query).all()

    def all_clinics(self) -> Sequence[ClinicInfo]:
        return self.session.scalars(select(ClinicInfo)).all()

    def appointment(self, appointment_id: uuid.UUID, *, for_update: bool = False) -> AppointmentCopy | None:
        if for_update:
            return self.session.get(
                AppointmentCopy, appointment_id, with_for_update=True, populate_existing=True
            )
        return self.session.get(AppointmentCopy, appointment_id)

    def reminder_policy(self, clinic_id: uuid.UUID) -> ReminderPolicy | None:
        row = self.session.execute(
            select(reminder_policies).where(reminder_policies.c.clinic_id == clinic_id)
        ).first()
        if row is None:
            return None
        quiet = (
            QuietHours(row.quiet_hours_start, row.quiet_hours_end)
            if row.quiet_hours_start is not None and row.quiet_hours_end is not None
            else None
        )
        return ReminderPolicy(
            clinic_id=row.clinic_id,
            email_hours_before=row.email_hours_before,
            sms_hours_before=row.sms_hours_before,
            skip_when_confirmed=row.skip_when_confirmed,
            quiet_hours=quiet,
            updated_at=row.updated_at,
        )

    def save_reminder_policy(self, policy: ReminderPolicy) -> None:
        t = reminder_policies
        self.session.execute(delete(t).where(t.c.clinic_id == policy.clinic_id))
        self.session.execute(
            insert(t).values(
                clinic_id=policy.clinic_id,
                email_hours_before=policy.email_hours_before,
                sms_hours_before=policy.sms_hours_before,
                skip_when_confirmed=policy.skip_when_confirmed,
                quiet_hours_start=policy.quiet_hours.start if policy.quiet_hours else None,
                quiet_hours_end=policy.quiet_hours.end if policy.quiet_hours else None,
                updated_at=policy.updated_at,
            )
        )

    def deliveries_for_appointment(
        self, appointment_id: uuid.UUID, *, for_update: bool = False
    ) -> Sequence[Delivery]:
        """``for_update`` locks the rows (PostgreSQL) and reads them afresh, for a change decided on what
        they say: a dispatcher then skips them until the change commits, or the read waits for its claim."""
        t = deliveries
        query = (
            select(Delivery)
            .where(t.c.appointment_id == appointment_id)
            .order_by(t.c.sequence, t.c.created_at)
        )
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).all()

    def claimable_deliveries(self, now: datetime, stale_before: datetime, limit: int) -> Sequence[Delivery]:
        """Due pending rows and stale sending rows, oldest due first.

        On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers claim
        disjoint sets; SQLite has no row locks, but its BEGIN IMMEDIATE serializes the claims.
        """
        t = deliveries
        query = (
            select(Delivery)
            .where(
                or_(
                    and_(t.c.status == DeliveryStatus.PENDING, t.c.next_attempt_at <= now),
                    and_(t.c.status == DeliveryStatus.SENDING, t.c.claimed_at <= stale_before),
                )
            )
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(query).all()

    def delivery_for_update(self, delivery_id: uuid.UUID) -> Delivery | None:
        query = select(Delivery).where(deliveries.c.id == delivery_id).with_for_update()
        return self.session.scalars(query).first()

    def finish_claim(self, claimed: Delivery, finished: Delivery, attempt: DeliveryAttempt) -> bool:
        # One compare-and-set (claim_statements): no read of the row, no ORM flush.
        changed = tuple(
            name for name in _DELIVERY_FIELDS if getattr(finished, name) != getattr(claimed, name)
        )
        params = {
            "claimed_id": claimed.id,
            "claimed_status": claimed.status,
            "claimed_attempts": claimed.attempts,
            "attempt_id": attempt.id,
            **{f"new_{name}": getattr(finished, name) for name in changed},
            **{f"attempt_{name}": getattr(attempt, name) for name in claim_statements.ATTEMPT_COLUMNS},
        }
        columns = changed or ("status",)
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            return bool(
                connection.execute(claim_statements.finish_claim_at_once(columns), params).scalar_one()
            )
        if connection.execute(claim_statements.finish_delivery(columns), params).rowcount != 1:
            return False
        connection.execute(claim_statements.finish_attempt(), params)
        return True

    def attempts_of(self, delivery_ids: Sequence[uuid.UUID]) -> Sequence[DeliveryAttempt]:
        if not delivery_ids:
            return []
        t = delivery_attempts
        query = (
            select(DeliveryAttempt)
            .where(t.c.delivery_id.in_(list(delivery_ids)))
            .order_by(t.c.delivery_id, t.c.number, t.c.started_at)
        )
        return self.session.scalars(query).all()

    def pending_deliveries(
        self, patient_id: uuid.UUID, kinds: Collection[DeliveryKind]
    ) -> Sequence[Delivery]:
        t = deliveries
        query = select(Delivery).where(
            t.c.patient_id == patient_id,
            t.c.status == DeliveryStatus.PENDING,
            t.c.kind.in_(list(kinds)),
        )
        return self.session.scalars(query).all()

    def delivery_by_key(self, key: str) -> Delivery | None:
        return self.session.scalars(select(Delivery).where(deliveries.c.key == key)).first()

    def list_deliveries(self, *, offset: int, limit: int, **filters: Any) -> tuple[Sequence[Delivery], int]:
        """Newest first."""
        query = select(Delivery).filter_by(**filters)
        order = (deliveries.c.created_at.desc(), deliveries.c.id)
        return counted_page(self.session, query, order, offset, limit)
