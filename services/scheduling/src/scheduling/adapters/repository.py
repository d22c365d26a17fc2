"""Repositories: how the service layer finds and stores domain objects in one session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    Select,
    String,
    Time,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from clinic_shared.db import UTCDateTime, counted_page
from scheduling.adapters import orm
from scheduling.adapters.patient_list import PatientListQueries
from scheduling.domain.auth import PasswordResetToken, RefreshToken, SignUpRequest
from scheduling.domain.availability import Closure, Interval, OpeningHours, Room, TimeOff, WorkingHours
from scheduling.domain.calendar import CalendarFeed
from scheduling.domain.model import (
    RELEASED_STATUSES,
    Account,
    Appointment,
    AppointmentStatus,
    Clinic,
    Patient,
    PatientAccess,
    Practitioner,
    Suitability,
    TreatmentType,
)
from scheduling.domain.plans import TreatmentPlan
from scheduling.domain.waitlist import WaitlistEntry, WaitlistStatus
from scheduling.service_layer.ports import AvailabilityFacts, BookingParties

T = TypeVar("T")

# No appointment is longer than this (duration + buffer), so a time-range query can use the start index.
LONGEST_HOLD = timedelta(hours=10)

# The sources of availability_facts' rows, in the order they are returned, and the columns they share
# (a source leaves the others NULL, typed: PostgreSQL resolves a UNION's column types pair by pair).
OPENING, WORKING, CLOSURE, TIME_OFF, ROOM, BUSY = range(6)
_FACT_COLUMNS: dict[str, TypeEngine[Any]] = {
    "weekday": Integer(),
    "t1": Time(),
    "t2": Time(),
    "d1": Date(),
    "d2": Date(),
    "ts1": UTCDateTime(),
    "ts2": UTCDateTime(),
    "name": String(),
}


_ACCESS_COLUMNS = tuple(orm.patient_access_log.c.keys())


class SqlAlchemyRepository(PatientListQueries):
    """Generic get/add plus the queries scheduling needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entity: object) -> None:
        self.session.add(entity)

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        return self.session.get(cls, entity_id)

    def get_for_update(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        # populate_existing: a copy read earlier in this session is refreshed with what the lock saw.
        # SQLite has no FOR UPDATE (SQLAlchemy leaves it out); BEGIN IMMEDIATE serializes writers there.
        return self.session.get(cls, entity_id, with_for_update=True, populate_existing=True)

    def list(self, cls: type[T], *, offset: int, limit: int, **filters: object) -> tuple[Sequence[T], int]:
        query = select(cls).filter_by(**filters)
        return counted_page(self.session, query, self._order(cls), offset, limit)

    def add_accesses(self, accesses: Sequence[PatientAccess]) -> None:
        if accesses:
            rows = [{key: getattr(access, key) for key in _ACCESS_COLUMNS} for access in accesses]
            self.session.execute(insert(orm.patient_access_log), rows)

    @staticmethod
    def _order(cls: type) -> list[object]:
        if cls is Appointment:
            return [Appointment.starts_at, Appointment.id]  # type: ignore[list-item]
        if cls is TreatmentPlan:
            return [TreatmentPlan.created_at, TreatmentPlan.id]  # type: ignore[list-item]
        if cls is PatientAccess:
            return [PatientAccess.at.desc(), PatientAccess.id]  # type: ignore[attr-defined]
        if cls is Account:
            return [Account.email, Account.id]  # type: ignore[list-item]
        return [cls.id]  # type: ignore[attr-defined]

    def appointments_page(
        self,
        *,
        offset: int,
        limit: int,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
        **filters: object,
    ) -> tuple[Sequence[Appointment], int]:
        query = select(Appointment).filter_by(**filters)
        if starts_from is not None:
            query = query.where(Appointment.starts_at >= starts_from)  # type: ignore[arg-type,operator]
        if starts_before is not None:
            query = query.where(Appointment.starts_at < starts_before)  # type: ignore[arg-type,operator]
        return counted_page(self.session, query, self._order(Appointment), offset, limit)

    def time_off_page(
        self, clinic_id: uuid.UUID, starts_before: datetime, ends_after: datetime, *, offset: int, limit: int
    ) -> tuple[Sequence[TimeOff], int]:
        query = (
            select(TimeOff)
            .join(orm.practitioners, orm.practitioners.c.id == orm.time_off.c.practitioner_id)
            .where(
                orm.practitioners.c.clinic_id == clinic_id,
                orm.time_off.c.starts_at < starts_before,
                orm.time_off.c.ends_at > ends_after,
            )
        )
        order = (orm.time_off.c.starts_at, orm.time_off.c.id)
        return counted_page(self.session, query, order, offset, limit)

    def account_of_patient(self, patient_id: uuid.UUID) -> Account | None:
        return self.session.scalars(select(Account).where(Account.patient_id == patient_id)).first()  # type: ignore[arg-type]

    def account_by_email(self, email: str) -> Account | None:
        return self.session.scalars(select(Account).where(Account.email == email.lower())).first()  # type: ignore[arg-type]

    def clinic_by_code(self, code: str) -> Clinic | None:
        return self.session.scalars(select(Clinic).where(Clinic.code == code.upper())).first()  # type: ignore[arg-type]

    def booking_parties(
        self,
        clinic_id: uuid.UUID,
        practitioner_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        patient_id: uuid.UUID,
    ) -> BookingParties:
        """Clinic, practitioner and treatment type (None where missing) and whether the patient exists."""
        params = {
            "clinic_id": clinic_id,
            "practitioner_id": practitioner_id,
            "treatment_type_id": treatment_type_id,
            "patient_id": patient_id,
        }
        clinic, practitioner, treatment, patient_exists = self.session.execute(
            _booking_parties_query(), params
        ).one()
        return BookingParties(clinic, practitioner, treatment, bool(patient_exists))

    def practitioners(self, clinic_id: uuid.UUID) -> Sequence[Practitioner]:
        """A clinic's practitioners in a stable order (by id)."""
        query = select(Practitioner).where(Practitioner.clinic_id == clinic_id)  # type: ignore[arg-type]
        return self.session.scalars(query.order_by(Practitioner.id)).all()  # type: ignore[arg-type]

    def opening_hours(self, clinic_id: uuid.UUID) -> Sequence[OpeningHours]:
        query = select(OpeningHours).where(OpeningHours.clinic_id == clinic_id)  # type: ignore[arg-type]
        return self.session.scalars(query.order_by(OpeningHours.weekday, OpeningHours.starts)).all()  # type: ignore[arg-type]

    def working_hours(self, practitioner_ids: Sequence[uuid.UUID]) -> Sequence[WorkingHours]:
        query = select(WorkingHours).where(WorkingHours.practitioner_id.in_(practitioner_ids))  # type: ignore[attr-defined]
        return self.session.scalars(query.order_by(WorkingHours.weekday, WorkingHours.starts)).all()  # type: ignore[arg-type]

    def rooms(self, clinic_id: uuid.UUID) -> Sequence[Room]:
        query = select(Room).where(Room.clinic_id == clinic_id, Room.active.is_(True))  # type: ignore[arg-type,attr-defined]
        return self.session.scalars(query.order_by(Room.name)).all()  # type: ignore[arg-type]

    def availability_facts(
        self,
        clinic_id: uuid.UUID,
        practitioner_ids: Sequence[uuid.UUID],
        start: datetime,
        end: datetime,
        first_day: date,
        last_day: date,
        exclude: uuid.UUID | None = None,
    ) -> AvailabilityFacts:
        """Everything free time depends on, in one round trip: the clinic's opening hours, closures
        touching local days [first_day, last_day] and active rooms (by name: the first free one is used);
        the practitioners' working hours and time off touching [start, end); and the live appointments
        touching [start, end) of these practitioners or holding a room."""
        params = {
            "clinic_id": clinic_id,
            "practitioner_ids": list(practitioner_ids),
            "start": start,
            "end": end,
            "since": start - LONGEST_HOLD,
            "first_day": first_day,
            "last_day": last_day,
            "exclude": exclude,
        }
        facts = AvailabilityFacts()
        # Appointments are grouped by their ids' integers: a month-wide search reads about a thousand rows,
        # and hashing an int is much cheaper than uuid.UUID's Python-level __hash__ and __eq__.
        by_practitioner: dict[int, list[Interval]] = {}
        rows = self.session.execute(_availability_query(exclude is not None), params).all()
        for source, owner, row_id, weekday, t1, t2, d1, d2, ts1, ts2, name in rows:
            if source == BUSY:  # row_id is the room held, if any
                held = Interval(ts1, ts2)
                intervals = by_practitioner.get(owner.int)
                if intervals is None:
                    intervals = by_practitioner[owner.int] = facts.busy[owner] = []
                intervals.append(held)
                if row_id is not None:
                    facts.room_busy.setdefault(row_id, []).append(held)
            elif source == OPENING:
                facts.opening_hours.append(OpeningHours(row_id, owner, weekday, t1, t2))
            elif source == WORKING:
                facts.working_hours.append(WorkingHours(row_id, owner, weekday, t1, t2))
            elif source == CLOSURE:
                facts.closures.append(Closure(row_id, owner, d1, d2, name))
            elif source == TIME_OFF:
                facts.time_off.append(TimeOff(row_id, owner, ts1, ts2, name))
            else:
                facts.rooms.append(Room(row_id, owner, name))
        return facts

    def suitability(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Suitability | None:
        """The latest finding for this patient at this clinic."""
        query = select(Suitability).where(
            Suitability.clinic_id == clinic_id,  # type: ignore[arg-type]
            Suitability.patient_id == patient_id,  # type: ignore[arg-type]
        )
        return self.session.scalars(query.order_by(Suitability.recorded_at.desc())).first()  # type: ignore[attr-defined]

    def suitability_for(self, assessment_id: uuid.UUID) -> Suitability | None:
        query = select(Suitability).where(Suitability.assessment_id == assessment_id)  # type: ignore[arg-type]
        return self.session.scalars(query).first()

    def replace_weekly(
        self, entity: type, owner_column: str, owner_id: uuid.UUID, rows: Sequence[object]
    ) -> None:
        """Replace an owner's weekly hours with ``rows``."""
        for old in self.session.scalars(select(entity).filter_by(**{owner_column: owner_id})).all():
            self.session.delete(old)
        self.session.flush()
        self.session.add_all(rows)

    def waiting_entries(self, clinic_id: uuid.UUID) -> Sequence[WaitlistEntry]:
        """Entries still waiting at a clinic, first come first served."""
        query = select(WaitlistEntry).where(
            WaitlistEntry.clinic_id == clinic_id,  # type: ignore[arg-type]
            WaitlistEntry.status == WaitlistStatus.WAITING,  # type: ignore[arg-type]
        )
        return self.session.scalars(query.order_by(WaitlistEntry.created_at, WaitlistEntry.id)).all()  # type: ignore[arg-type]

    def offers_expired_by(self, now: datetime) -> Sequence[WaitlistEntry]:
        """Offered entries whose offer ran out, locked; one being claimed or released right now is skipped."""
        query = select(WaitlistEntry).where(
            WaitlistEntry.status == WaitlistStatus.OFFERED,  # type: ignore[arg-type]
            WaitlistEntry.offer_expires_at <= now,  # type: ignore[arg-type,operator]
        )
        query = query.order_by(WaitlistEntry.offer_expires_at).with_for_update(skip_locked=True)  # type: ignore[arg-type]
        return self.session.scalars(query.execution_options(populate_existing=True)).all()

    def waitlist_entry_for_update(self, entry_id: uuid.UUID) -> WaitlistEntry | None:
        """The entry, its row locked until the transaction ends and re-read as the lock found it."""
        query = select(WaitlistEntry).where(WaitlistEntry.id == entry_id)  # type: ignore[arg-type]
        return self.session.scalars(query.with_for_update().execution_options(populate_existing=True)).first()

    def holds_booked_by(self, cutoff: datetime) -> Sequence[Appointment]:
        """Holds (``proposed``) made at or before ``cutoff``, locked; one being claimed is skipped."""
        query = select(Appointment).where(
            Appointment.status == AppointmentStatus.PROPOSED,  # type: ignore[arg-type]
            Appointment.booked_at <= cutoff,  # type: ignore[arg-type,operator]
        )
        query = query.order_by(Appointment.booked_at).with_for_update(skip_locked=True)  # type: ignore[arg-type]
        return self.session.scalars(query.execution_options(populate_existing=True)).all()

    def plan_id_of(self, appointment_id: uuid.UUID) -> uuid.UUID | None:
        # A scalar: an appointment loaded here would make a later lock of it refuse a newer version.
        query = select(orm.appointments.c.plan_id).where(orm.appointments.c.id == appointment_id)
        return self.session.scalar(query)

    def clinic_id_of(self, appointment_id: uuid.UUID) -> uuid.UUID | None:
        # A scalar, as plan_id_of: nothing is loaded that a later lock would have to refresh.
        query = select(orm.appointments.c.clinic_id).where(orm.appointments.c.id == appointment_id)
        return self.session.scalar(query)

    def plan_sessions_for_update(self, plan_id: uuid.UUID) -> Sequence[Appointment]:
        query = select(Appointment).where(Appointment.plan_id == plan_id)  # type: ignore[arg-type]
        query = query.order_by(Appointment.id).with_for_update()  # type: ignore[arg-type]
        return self.session.scalars(query.execution_options(populate_existing=True)).all()

    def feed_by_token_hash(self, token_hash: str) -> CalendarFeed | None:
        query = select(CalendarFeed).where(CalendarFeed.token_hash == token_hash)  # type: ignore[arg-type]
        return self.session.scalars(query).first()

    def appointments_of(
        self, owner_kind: str, owner_id: uuid.UUID, start: datetime, end: datetime
    ) -> Sequence[Appointment]:
        """A patient's or practitioner's appointments starting in [start, end), holds left out."""
        owner = Appointment.patient_id if owner_kind == "patient" else Appointment.practitioner_id
        query = select(Appointment).where(
            owner == owner_id,  # type: ignore[arg-type,comparison-overlap]
            Appointment.starts_at >= start,  # type: ignore[arg-type,operator]
            Appointment.starts_at < end,  # type: ignore[arg-type,operator]
            Appointment.status != AppointmentStatus.PROPOSED,  # type: ignore[arg-type]
        )
        return self.session.scalars(query.order_by(Appointment.starts_at)).all()  # type: ignore[arg-type]

    def patient_overlap(
        self, patient_id: uuid.UUID, start: datetime, end: datetime, exclude: uuid.UUID
    ) -> Appointment | None:
        """What ex_appointments_patient_overlap compares: live rows not flagged as an allowed overlap."""
        query = select(Appointment).where(
            Appointment.patient_id == patient_id,  # type: ignore[arg-type]
            Appointment.starts_at < end,  # type: ignore[arg-type,operator]
            Appointment.starts_at > start - LONGEST_HOLD,  # type: ignore[arg-type,operator]
            Appointment.ends_at > start,  # type: ignore[arg-type,operator]
            Appointment.status.not_in(RELEASED_STATUSES),  # type: ignore[attr-defined]
            Appointment.allow_patient_overlap.is_(False),  # type: ignore[attr-defined]
            Appointment.id != exclude,  # type: ignore[arg-type]
        )
        return self.session.scalars(query.order_by(Appointment.starts_at, Appointment.id).limit(1)).first()  # type: ignore[arg-type]

    def try_claim_room(self, room_id: uuid.UUID, day: date) -> bool:
        if self.session.get_bind().dialect.name != "postgresql":
            return True  # SQLite serializes writers: no concurrent booking can pick the room meanwhile
        # Two int4 keys: a key space of their own, apart from single-bigint advisory locks.
        room_key = room_id.int % 2**32 - 2**31
        claimed = self.session.execute(
            select(func.pg_try_advisory_xact_lock(room_key, day.toordinal()))
        ).scalar_one()
        return bool(claimed)

    def lock_patient_bookings(self, patient_id: uuid.UUID) -> None:
        if self.session.get_bind().dialect.name != "postgresql":
            return  # SQLite serializes writers already
        # One bigint key: a key space apart from the rooms' two-int4 keys.
        patient_key = patient_id.int % 2**64 - 2**63
        self.session.execute(select(func.pg_advisory_xact_lock(patient_key)))

    def delete(self, entity: object) -> None:
        self.session.delete(entity)

    def refresh_token_for_update(self, token_hash: str) -> RefreshToken | None:
        # populate_existing: a row read earlier in this session is refreshed with what the lock saw.
        query = select(RefreshToken).where(RefreshToken.token_hash == token_hash)  # type: ignore[arg-type]
        return self.session.scalars(query.with_for_update().execution_options(populate_existing=True)).first()

    def revoke_refresh_tokens(
        self, now: datetime, *, family_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None
    ) -> int:
        if (family_id is None) == (account_id is None):
            raise ValueError("name a family or an account")
        owner = (
            RefreshToken.family_id == family_id  # type: ignore[arg-type]
            if family_id is not None
            else RefreshToken.account_id == account_id  # type: ignore[arg-type]
        )
        # An ORM UPDATE: tokens already loaded in this session are updated too.
        statement = update(RefreshToken).where(owner, RefreshToken.revoked_at.is_(None))  # type: ignore[attr-defined]
        result = self.session.execute(statement.values(revoked_at=now))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def reset_token_for_update(self, token_hash: str) -> PasswordResetToken | None:
        query = select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash)  # type: ignore[arg-type]
        return self.session.scalars(query.with_for_update().execution_options(populate_existing=True)).first()

    def newest_reset_token(self, account_id: uuid.UUID) -> PasswordResetToken | None:
        query = select(PasswordResetToken).where(PasswordResetToken.account_id == account_id)  # type: ignore[arg-type]
        order = (PasswordResetToken.created_at.desc(), PasswordResetToken.id.desc())  # type: ignore[attr-defined]
        return self.session.scalars(query.order_by(*order).limit(1)).first()

    def sign_up_request_for_update(self, token_hash: str) -> SignUpRequest | None:
        query = select(SignUpRequest).where(SignUpRequest.token_hash == token_hash)  # type: ignore[arg-type]
        return self.session.scalars(query.with_for_update().execution_options(populate_existing=True)).first()

    def purge_sign_up_requests(self, now: datetime) -> int:
        expired = delete(SignUpRequest).where(SignUpRequest.expires_at <= now)  # type: ignore[arg-type]
        return int(self.session.execute(expired).rowcount)  # type: ignore[attr-defined]


# The two hottest statements are built once (with bound parameters) rather than on every request.


@lru_cache(maxsize=1)
def _booking_parties_query() -> Select[Any]:
    """A one-row anchor outer-joined to the clinic, practitioner and treatment type by id (NULL where
    missing), and whether the patient exists."""
    anchor = select(literal_column("1").label("one")).subquery()
    return (
        select(
            Clinic,
            Practitioner,
            TreatmentType,
            exists().where(orm.patients.c.id == bindparam("patient_id")).label("patient_exists"),
        )
        .select_from(anchor)
        .outerjoin(orm.clinics, orm.clinics.c.id == bindparam("clinic_id"))
        .outerjoin(orm.practitioners, orm.practitioners.c.id == bindparam("practitioner_id"))
        .outerjoin(orm.treatment_types, orm.treatment_types.c.id == bindparam("treatment_type_id"))
    )


@lru_cache(maxsize=2)
def _availability_query(excluding: bool) -> CompoundSelect:
    """A UNION ALL of the six sources of availability_facts sharing one row shape, ordered as each needs:
    hours by weekday and start, closures by first day, time off by start, rooms by name. An appointment's
    row carries its practitioner as the owner and the room it holds (if any) as the id."""
    oh, wh, cl, to, rm, a = (
        orm.opening_hours.c,
        orm.working_hours.c,
        orm.closures.c,
        orm.time_off.c,
        orm.rooms.c,
        orm.appointments.c,
    )

    def row(source: int, owner: ColumnElement[Any], row_id: ColumnElement[Any], **values: Any) -> Select[Any]:
        columns = [literal_column(str(source)).label("source"), owner.label("owner"), row_id.label("id")]
        for name, kind in _FACT_COLUMNS.items():
            columns.append(values.get(name, cast(null(), kind)).label(name))
        return select(*columns)

    clinic_id = bindparam("clinic_id")
    practitioner_ids = bindparam("practitioner_ids", expanding=True)
    start, end = bindparam("start"), bindparam("end")
    appointments = [
        a.clinic_id == clinic_id,
        a.starts_at < end,
        a.starts_at > bindparam("since"),  # lets the (clinic, start) index bound the scan
        a.occupied_until > start,
        a.status.not_in([s.value for s in RELEASED_STATUSES]),
        a.practitioner_id.in_(practitioner_ids) | a.room_id.is_not(None),
    ]
    if excluding:
        appointments.append(a.id != bindparam("exclude"))
    query = union_all(
        row(OPENING, oh.clinic_id, oh.id, weekday=oh.weekday, t1=oh.starts, t2=oh.ends).where(
            oh.clinic_id == clinic_id
        ),
        row(WORKING, wh.practitioner_id, wh.id, weekday=wh.weekday, t1=wh.starts, t2=wh.ends).where(
            wh.practitioner_id.in_(practitioner_ids)
        ),
        row(CLOSURE, cl.clinic_id, cl.id, d1=cl.starts_on, d2=cl.ends_on, name=cl.reason).where(
            cl.clinic_id == clinic_id,
            cl.starts_on <= bindparam("last_day"),
            cl.ends_on >= bindparam("first_day"),
        ),
        row(TIME_OFF, to.practitioner_id, to.id, ts1=to.starts_at, ts2=to.ends_at, name=to.reason).where(
            to.practitioner_id.in_(practitioner_ids), to.starts_at < end, to.ends_at > start
        ),
        row(ROOM, rm.clinic_id, rm.id, name=rm.name).where(rm.clinic_id == clinic_id, rm.active.is_(True)),
        row(BUSY, a.practitioner_id, a.room_id, ts1=a.starts_at, ts2=a.occupied_until).where(*appointments),
    )
    return query.order_by(*(literal_column(n) for n in ("source", "weekday", "t1", "d1", "ts1", "name")))


__all__ = ["Patient", "Practitioner", "SqlAlchemyRepository", "TreatmentType"]
