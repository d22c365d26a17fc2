"""The living demo clinic behind `scheduling seed-demo`: hours, rooms, staff, patients and their history.

Past visits cannot be booked through the API (their start has passed), so the history is played through
the use cases with a clock set back in time: a visit is booked a week before it starts (or at the desk
right after the visit it follows), the patient arrives and it is completed when it ends. Days are
relative to today in the clinic's zone, so a fresh demo always has a recent past and a near future.

Every step looks first and records are given the fixed ids of clinic_shared.demo, so seeding again adds
nothing; a visit that has since passed is completed on a later run, as the front desk would have done.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from clinic_shared import demo
from clinic_shared.tokens import Principal
from scheduling.bootstrap import Container
from scheduling.domain.errors import SchedulingError
from scheduling.domain.model import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Clinic,
)
from scheduling.domain.plans import TreatmentPlan
from scheduling.service_layer import accounts, appointments, availability, clinic_setup, plans
from scheduling.service_layer.availability import WeeklySpan
from scheduling.service_layer.tenancy import OPERATOR

MONDAY_TO_FRIDAY = range(5)
SATURDAY = 5
OPENING_HOURS = [WeeklySpan(day, time(8), time(18)) for day in MONDAY_TO_FRIDAY] + [
    WeeklySpan(SATURDAY, time(9), time(13))
]
WORKING_HOURS = {
    demo.PRACTITIONER_IMS_ID: [WeeklySpan(day, time(9), time(17)) for day in MONDAY_TO_FRIDAY]
    + [WeeklySpan(SATURDAY, time(9), time(13))],
    demo.PRACTITIONER_ASSESSOR_ID: [WeeklySpan(day, time(8), time(17)) for day in MONDAY_TO_FRIDAY],
}
ROOMS = ("Treatment room 1", "Treatment room 2")
BOOKED_AHEAD = timedelta(days=7)
AT_THE_DESK = timedelta(minutes=15)  # a follow-up is booked this long after the visit it follows

FRONT_DESK = Principal(
    account_id=demo.FRONT_DESK.account_id, roles=frozenset({"front_desk"}), clinic_id=demo.CLINIC_ID
)
# The assessing practitioner records suitability (Sam has no sign-in; the finding names the practitioner).
ASSESSOR = Principal(
    account_id=demo.demo_id("account:assessor"),
    roles=frozenset({"practitioner"}),
    practitioner_id=demo.PRACTITIONER_ASSESSOR_ID,
    clinic_id=demo.CLINIC_ID,
)


class Outcome(Enum):
    COMPLETED = "completed"  # once it has ended (on a later run too)
    NO_SHOW = "no_show"
    LATE_CANCEL = "late_cancel"  # the patient cancels six hours before


@dataclass(frozen=True)
class Visit:
    appointment_id: uuid.UUID
    patient: demo.DemoPatient
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    day: date
    at: time
    outcome: Outcome = Outcome.COMPLETED
    suitable: bool = False  # an assessment that clears the patient for IMS (with consent)
    follows: uuid.UUID | None = None  # booked at the desk right after this visit's outcome


@dataclass
class Seeder:
    c: Container
    clock: demo.SeedClock
    ids: demo.SeedIds
    now: datetime
    added: list[str] = field(default_factory=list)  # what this run added, for the summary
    skipped: list[str] = field(default_factory=list)  # what the clinic refused (an older var/ may differ)
    patients: dict[str, uuid.UUID] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(demo.CLINIC_TIMEZONE)

    def seed(self) -> list[str]:
        with self.c.uow() as uow:
            seeded = uow.repo.get(Clinic, demo.CLINIC_ID) is not None
        if not seeded:
            self.catalogue()
        self.hours_and_rooms()
        for account in demo.STAFF:
            self.staff_account(account)
        for patient in demo.PATIENTS:
            self.patients[patient.key] = self.patient(patient)
        self.history(self.now.astimezone(self.zone).date())
        return self.added

    # --- the clinic ------------------------------------------------------------------------------------

    def catalogue(self) -> None:
        self.clock.set(self.now)
        with self.c.uow() as uow:
            clinic_setup.create_clinic(
                uow,
                OPERATOR,
                clinic_setup.CreateClinic(
                    code="VAN",
                    name="Demo IMS Clinic",
                    timezone=demo.CLINIC_TIMEZONE,
                    address="100 Main St, Vancouver BC",
                    phone="+16045550199",
                    email="front@demo.clinic",
                    clinic_id=demo.CLINIC_ID,
                ),
            )
            uow.commit()
        practitioners = [
            (demo.PRACTITIONER_IMS_ID, "Dr. Ida Needham", "PT-1001", True),
            (demo.PRACTITIONER_ASSESSOR_ID, "Sam Assessor", "PT-1002", False),
        ]
        for practitioner_id, name, registration, ims in practitioners:
            with self.c.uow() as uow:
                clinic_setup.add_practitioner(
                    uow,
                    OPERATOR,
                    clinic_setup.AddPractitioner(demo.CLINIC_ID, name, registration, ims, practitioner_id),
                )
                uow.commit()
        catalogue = [
            (demo.ASSESSMENT_ID, "ASSESS60", "IMS assessment", AppointmentKind.ASSESSMENT, 60),
            (demo.IMS_30_ID, "IMS30", "IMS session, 30 min", AppointmentKind.TREATMENT, 30),
            (demo.IMS_45_ID, "IMS45", "IMS session, 45 min", AppointmentKind.TREATMENT, 45),
            (demo.IMS_60_ID, "IMS60", "IMS session, 60 min", AppointmentKind.TREATMENT, 60),
        ]
        for treatment_id, code, name, kind, minutes in catalogue:
            with self.c.uow() as uow:
                clinic_setup.add_treatment_type(
                    uow,
                    OPERATOR,
                    clinic_setup.AddTreatmentType(
                        demo.CLINIC_ID,
                        code,
                        name,
                        kind,
                        minutes,
                        buffer_minutes=10,
                        treatment_type_id=treatment_id,
                    ),
                )
                uow.commit()
        self.added.append("clinic VAN with 2 practitioners and 4 treatment types")

    def hours_and_rooms(self) -> None:
        # Only where nothing is set, so hours someone changed in their own var/ are left alone.
        with self.c.uow() as uow:
            if not availability.get_opening_hours(uow, OPERATOR, demo.CLINIC_ID):
                availability.set_opening_hours(uow, OPERATOR, demo.CLINIC_ID, OPENING_HOURS)
                uow.commit()
                self.added.append("opening hours")
        for practitioner_id, spans in WORKING_HOURS.items():
            with self.c.uow() as uow:
                if not availability.get_working_hours(uow, OPERATOR, demo.CLINIC_ID, practitioner_id):
                    availability.set_working_hours(uow, OPERATOR, demo.CLINIC_ID, practitioner_id, spans)
                    uow.commit()
                    self.added.append("working hours")
        with self.c.uow() as uow:
            existing = {room.name for room in uow.repo.rooms(demo.CLINIC_ID)}
        for name in ROOMS:
            if name not in existing:
                with self.c.uow() as uow:
                    availability.add_room(uow, OPERATOR, demo.CLINIC_ID, name)
                    uow.commit()
                self.added.append(f"room {name!r}")

    # --- people ----------------------------------------------------------------------------------------

    def staff_account(self, account: demo.DemoAccount) -> None:
        with self.c.uow() as uow:
            if uow.repo.account_by_email(account.email) is not None:
                return
        self.clock.set(self.now)
        with self.ids.first(account.account_id), self.c.uow() as uow:
            made = accounts.create_staff_account(
                uow,
                self.c.hasher,
                OPERATOR,
                accounts.CreateStaffAccount(
                    account.email, account.password, account.roles, demo.CLINIC_ID, account.practitioner_id
                ),
            )
            uow.commit()
        _check_id(made.id, account.account_id, "create_staff_account")
        self.added.append(f"account {account.email}")

    def patient(self, patient: demo.DemoPatient) -> uuid.UUID:
        """The patient's id: the fixed one, or the one an earlier seed gave them (looked up by e-mail)."""
        with self.c.uow() as uow:
            account = uow.repo.account_by_email(patient.email)
            if account is not None and account.patient_id is not None:
                return account.patient_id
        self.clock.set(self.now - timedelta(days=60))  # they registered before their first visit
        with self.ids.first(patient.id, patient.account_id), self.c.uow() as uow:
            made = accounts.register_patient(
                uow,
                self.c.hasher,
                accounts.RegisterPatient(
                    email=patient.email,
                    first_name=patient.first_name,
                    last_name=patient.last_name,
                    phone=patient.phone,
                    language="en",
                    password=demo.PATIENT_PASSWORD,
                ),
            )
            uow.commit()
        _check_id(made.id, patient.id, "register_patient")
        self.added.append(f"patient {patient.email}")
        return made.id

    # --- their history ---------------------------------------------------------------------------------

    def history(self, today: date) -> None:
        """Four patients' recent past and near future; see each line for the story."""
        plan_day = _weekday_on_or_before(today - timedelta(days=3))  # the third session, just past
        assessor, ims = demo.PRACTITIONER_ASSESSOR_ID, demo.PRACTITIONER_IMS_ID
        pat, riley, jordan, morgan = demo.PATIENT, demo.RILEY, demo.JORDAN, demo.MORGAN
        visits = [
            # Pat: assessed three weeks ago and cleared for IMS, then a weekly plan (see plan() below).
            Visit(
                demo.PAT_ASSESSMENT_ID,
                pat,
                assessor,
                demo.ASSESSMENT_ID,
                _weekday_on_or_before(today - timedelta(days=21)),
                time(10),
                suitable=True,
            ),
            # Riley: assessed, one IMS session done, the next booked at the desk.
            Visit(
                demo.RILEY_ASSESSMENT_ID,
                riley,
                assessor,
                demo.ASSESSMENT_ID,
                _weekday_on_or_before(today - timedelta(days=10)),
                time(13),
                suitable=True,
            ),
            Visit(
                demo.RILEY_FIRST_IMS_ID,
                riley,
                ims,
                demo.IMS_45_ID,
                _weekday_on_or_before(today - timedelta(days=5)),
                time(13),
                follows=demo.RILEY_ASSESSMENT_ID,
            ),
            Visit(
                demo.RILEY_NEXT_IMS_ID,
                riley,
                ims,
                demo.IMS_45_ID,
                _weekday_on_or_after(today + timedelta(days=2)),
                time(13),
                follows=demo.RILEY_FIRST_IMS_ID,
            ),
            # Jordan: missed the assessment (a no-show fee), rebooked.
            Visit(
                demo.JORDAN_MISSED_ID,
                jordan,
                assessor,
                demo.ASSESSMENT_ID,
                _weekday_on_or_before(today - timedelta(days=8)),
                time(9),
                outcome=Outcome.NO_SHOW,
            ),
            Visit(
                demo.JORDAN_ASSESSMENT_ID,
                jordan,
                assessor,
                demo.ASSESSMENT_ID,
                _weekday_on_or_after(today + timedelta(days=3)),
                time(9),
                follows=demo.JORDAN_MISSED_ID,
            ),
            # Morgan: cancelled on the morning of the assessment (a late-cancellation fee), rebooked.
            Visit(
                demo.MORGAN_CANCELLED_ID,
                morgan,
                assessor,
                demo.ASSESSMENT_ID,
                _weekday_on_or_before(today - timedelta(days=2)),
                time(11),
                outcome=Outcome.LATE_CANCEL,
            ),
            Visit(
                demo.MORGAN_ASSESSMENT_ID,
                morgan,
                assessor,
                demo.ASSESSMENT_ID,
                _weekday_on_or_after(today + timedelta(days=1)),
                time(15),
                follows=demo.MORGAN_CANCELLED_ID,
            ),
            # Pat again: a review a week after the plan's last session.
            Visit(
                demo.PAT_REVIEW_ID,
                pat,
                assessor,
                demo.ASSESSMENT_ID,
                plan_day + timedelta(weeks=demo.PAT_PLAN_SESSIONS - demo.PAT_PLAN_SESSIONS_DONE + 1),
                time(14),
            ),
        ]
        for visit in visits:
            # A var/ seeded long ago may hold someone's own booking at a demo time: skip, and say so.
            try:
                self.visit(visit)
            except SchedulingError as refused:
                self.skipped.append(f"{visit.patient.key}'s visit on {visit.day.isoformat()}: {refused}")
        try:
            self.plan(plan_day)
        except SchedulingError as refused:
            self.skipped.append(f"{demo.PATIENT.key}'s plan: {refused}")

    def visit(self, visit: Visit) -> None:
        appointment = self.appointment(visit.appointment_id)
        if appointment is None:
            starts_at = datetime.combine(visit.day, visit.at, tzinfo=self.zone)
            self.clock.set(self.booked_at(starts_at, visit.follows))
            with self.ids.first(visit.appointment_id), self.c.uow() as uow:
                appointment = appointments.book_appointment(
                    uow,
                    # Booked at the desk; the demo's first visits are new patients, whom only
                    # organisation-wide staff book (ADR 0006), so the seed books as the operator.
                    OPERATOR,
                    appointments.BookAppointment(
                        demo.CLINIC_ID,
                        visit.practitioner_id,
                        visit.treatment_type_id,
                        starts_at,
                        patient_id=self.patients[visit.patient.key],
                    ),
                )
                uow.commit()
            _check_id(appointment.id, visit.appointment_id, "book_appointment")
            self.added.append(f"appointment {visit.patient.key} {visit.day.isoformat()}")
        self.play_outcome(appointment, visit.outcome, visit.patient)
        if visit.suitable:
            self.record_suitability(visit.appointment_id)

    def booked_at(self, starts_at: datetime, follows: uuid.UUID | None) -> datetime:
        if follows is not None:
            earlier = self.appointment(follows)
            done = earlier and (earlier.completed_at or earlier.no_show_at or earlier.cancelled_at)
            if done:
                return min(done + AT_THE_DESK, self.now)
        return min(starts_at - BOOKED_AHEAD, self.now)

    def play_outcome(self, appointment: Appointment, outcome: Outcome, patient: demo.DemoPatient) -> None:
        if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
            return
        starts_at, ends_at = appointment.starts_at, appointment.ends_at
        if outcome is Outcome.COMPLETED and ends_at <= self.now:
            if appointment.status is AppointmentStatus.BOOKED:
                self.act(
                    starts_at - timedelta(minutes=5), appointments.mark_arrived, FRONT_DESK, appointment.id
                )
            self.act(ends_at, appointments.mark_completed, FRONT_DESK, appointment.id)
        elif outcome is Outcome.NO_SHOW and starts_at + timedelta(minutes=15) <= self.now:
            self.act(
                starts_at + timedelta(minutes=15),
                appointments.mark_no_show,
                FRONT_DESK,
                appointment.id,
                False,
            )
        elif outcome is Outcome.LATE_CANCEL and starts_at - timedelta(hours=6) <= self.now:
            by_patient = Principal(
                account_id=patient.account_id,
                roles=frozenset({"patient"}),
                patient_id=appointment.patient_id,
            )
            self.clock.set(starts_at - timedelta(hours=6))
            with self.c.uow() as uow:
                appointments.cancel_appointment(uow, by_patient, appointment.id, "Feeling unwell today")
                uow.commit()
        else:
            return
        self.added.append(f"{outcome.value} {appointment.id}")

    def act(self, at: datetime, use_case: Callable[..., object], *args: object) -> None:
        self.clock.set(at)
        with self.c.uow() as uow:
            use_case(uow, *args)
            uow.commit()

    def record_suitability(self, assessment_id: uuid.UUID) -> None:
        with self.c.uow() as uow:
            assessment = uow.repo.get(Appointment, assessment_id)
            if assessment is None or assessment.status is not AppointmentStatus.FULFILLED:
                return
            if uow.repo.suitability_for(assessment_id) is not None:
                return
            self.clock.set((assessment.completed_at or assessment.ends_at) + timedelta(minutes=5))
            appointments.record_suitability(
                uow,
                ASSESSOR,
                appointments.RecordSuitability(assessment_id, suitable=True, consent_recorded=True),
            )
            uow.commit()
        self.added.append(f"suitability {assessment_id}")

    def plan(self, third_session_day: date) -> None:
        """Pat's weekly IMS plan: booked at the desk after the assessment, half of it done by today."""
        with self.c.uow() as uow:
            existing = uow.repo.get(TreatmentPlan, demo.PAT_PLAN_ID)
        if existing is None:
            assessment = self.appointment(demo.PAT_ASSESSMENT_ID)
            if assessment is None or assessment.completed_at is None:
                return
            self.clock.set(assessment.completed_at + AT_THE_DESK)
            first_day = third_session_day - timedelta(weeks=demo.PAT_PLAN_SESSIONS_DONE - 1)
            with self.ids.first(demo.PAT_PLAN_ID, *demo.PAT_PLAN_SESSION_IDS), self.c.uow() as uow:
                view = plans.create_plan(
                    uow,
                    FRONT_DESK,
                    plans.CreatePlan(
                        clinic_id=demo.CLINIC_ID,
                        practitioner_id=demo.PRACTITIONER_IMS_ID,
                        treatment_type_id=demo.IMS_30_ID,
                        sessions=demo.PAT_PLAN_SESSIONS,
                        every_weeks=1,
                        weekday=third_session_day.weekday(),
                        local_time=time(10),
                        first_day=first_day,
                        patient_id=self.patients[demo.PATIENT.key],
                    ),
                )
                uow.commit()
            _check_id(view.plan.id, demo.PAT_PLAN_ID, "create_plan")
            for made, wanted in zip(view.sessions, demo.PAT_PLAN_SESSION_IDS, strict=True):
                _check_id(made.id, wanted, "create_plan's sessions")
            self.added.append("Pat's weekly IMS plan")
        for session_id in demo.PAT_PLAN_SESSION_IDS:
            session = self.appointment(session_id)
            if session is not None:
                self.play_outcome(session, Outcome.COMPLETED, demo.PATIENT)

    def appointment(self, appointment_id: uuid.UUID) -> Appointment | None:
        with self.c.uow() as uow:
            return uow.repo.get(Appointment, appointment_id)


def _weekday_on_or_before(day: date) -> date:
    while day.weekday() >= SATURDAY:
        day -= timedelta(days=1)
    return day


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


def _check_id(made: uuid.UUID, wanted: uuid.UUID, use_case: str) -> None:
    # The fixed ids are handed out in the order the use case asks for ids; if that order changes, say so
    # rather than seed records whose ids the other services (and a second run) would not find.
    if made != wanted:
        raise RuntimeError(f"{use_case} no longer takes the demo's fixed id first; update demo_seed.py")
