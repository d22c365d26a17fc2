"""Calendar views of appointments: one appointment, and per-patient/per-practitioner subscription feeds.

Each use case runs in its caller's unit of work, and the caller commits.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_shared.ical import CalendarEvent, appointment_uid
from clinic_shared.tokens import Principal
from scheduling.domain.calendar import CalendarFeed, FeedOwner, token_digest
from scheduling.domain.errors import Forbidden, NotFound, RuleViolation
from scheduling.domain.model import Appointment, AppointmentStatus, Clinic, Practitioner, TreatmentType
from scheduling.service_layer import appointments, tenancy
from scheduling.service_layer.ports import UnitOfWork

FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=400)
ICS_STATUS = {
    AppointmentStatus.PROPOSED: "TENTATIVE",
    AppointmentStatus.CANCELLED: "CANCELLED",
}


def appointment_entry(uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID) -> CalendarEvent:
    appointment = uow.repo.get(Appointment, appointment_id)
    if appointment is None or not appointments.may_see_appointment(actor, appointment):
        raise NotFound("appointment not found")
    return _entry(uow, appointment, uow.clock.now())


@dataclass(frozen=True)
class NewFeed:
    feed: CalendarFeed
    token: str


def create_feed(
    uow: UnitOfWork, actor: Principal, owner_kind: FeedOwner, owner_id: uuid.UUID | None
) -> NewFeed:
    """Issue a feed token (shown once): patients and practitioners their own, managers any practitioner's."""
    if owner_kind is FeedOwner.PATIENT:
        if actor.patient_id is None or owner_id not in (None, actor.patient_id):
            raise Forbidden("a patient feed is created by that patient")
        owner_id = actor.patient_id
    else:
        managers = actor.has_any(("admin", "front_desk"))
        if owner_id is None:
            owner_id = actor.practitioner_id
        if owner_id is None or (owner_id != actor.practitioner_id and not managers):
            raise Forbidden("a practitioner feed is created by that practitioner or a manager")
        practitioner = uow.repo.get(Practitioner, owner_id)
        if practitioner is None or not actor.acts_in(practitioner.clinic_id):
            raise NotFound("practitioner not found", field="owner_id")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(uow.new_id(), owner_kind, owner_id, token_digest(token), uow.clock.now())
    uow.repo.add(feed)
    return NewFeed(feed, token)


def revoke_feed(uow: UnitOfWork, actor: Principal, feed_id: uuid.UUID) -> CalendarFeed:
    feed = uow.repo.get(CalendarFeed, feed_id)
    if feed is None or not _may_revoke(uow, actor, feed):
        raise NotFound("feed not found")
    if not feed.active:
        raise RuleViolation("the feed is already revoked", field="status")
    feed.revoked_at = uow.clock.now()
    return feed


def _may_revoke(uow: UnitOfWork, actor: Principal, feed: CalendarFeed) -> bool:
    """The feed's owner, or a manager who may see the owner: a practitioner of their clinic, a patient with a
    relationship there (organisation-wide managers: anyone's)."""
    if feed.owner_id in (actor.patient_id, actor.practitioner_id):
        return True
    if not actor.has_any(("admin", "front_desk")):
        return False
    if feed.owner_kind is FeedOwner.PATIENT:
        return tenancy.sees_patient(uow, actor, feed.owner_id)
    practitioner = uow.repo.get(Practitioner, feed.owner_id)
    return practitioner is not None and actor.acts_in(practitioner.clinic_id)


def feed_entries(uow: UnitOfWork, token: str) -> Sequence[CalendarEvent]:
    """The owner's appointments from a month ago on; an unknown or revoked token is simply not found."""
    feed = uow.repo.feed_by_token_hash(token_digest(token))
    if feed is None or not feed.active:
        raise NotFound("feed not found")
    now = uow.clock.now()
    appointments = uow.repo.appointments_of(
        str(feed.owner_kind), feed.owner_id, now - FEED_PAST, now + FEED_AHEAD
    )
    return [_entry(uow, a, now) for a in appointments]


def _entry(uow: UnitOfWork, appointment: Appointment, now: datetime) -> CalendarEvent:
    clinic = uow.repo.get(Clinic, appointment.clinic_id)
    treatment = uow.repo.get(TreatmentType, appointment.treatment_type_id)
    practitioner = uow.repo.get(Practitioner, appointment.practitioner_id)
    if clinic is None or treatment is None or practitioner is None:
        raise NotFound("appointment not found")
    # What a calendar app needs about one appointment (no clinical detail).
    return CalendarEvent(
        uid=appointment_uid(appointment.id),
        sequence=appointment.sequence,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        timezone=clinic.timezone,
        summary=f"{treatment.name} with {practitioner.display_name} ({clinic.name})",
        location=clinic.address,
        status=ICS_STATUS.get(appointment.status, "CONFIRMED"),
        stamp=now,
    )
