"""A treatment plan's messages (summary, extension, cancellation, shortening), which stand in for its
sessions' own, and the sessions they show when they go out."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery
from notifications.domain.kinds import PLAN_ANNOUNCEMENT_KINDS, DeliveryKind
from notifications.domain.plans import untold
from notifications.domain.reasons import IN_PENDING_PLAN_MESSAGE, NEVER_TOLD
from notifications.service_layer.subject_messages import RecordMessage, record_message
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

# An extension's message is keyed by a name derived from (plan, sessions added): one per extension.
PLAN_EXTENSION_NAMESPACE = uuid.UUID("0b8e4d52-7f0a-4c4e-8a51-3d9b6c2f1e77")
# A shortening's message likewise, from (plan, sessions cut off): one per shortening.
PLAN_SHORTENING_NAMESPACE = uuid.UUID("5c2a9e61-3b7d-4f18-9e0c-71d4a8b2f6e3")


@dataclass(frozen=True)
class PlanSession:
    appointment_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class PlanFacts:
    """Whom and what a treatment plan is about (every scheduling.plan.* event carries them)."""

    plan_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID


@dataclass(frozen=True)
class RecordPlanSummary:
    """A treatment plan was booked with all its sessions (scheduling.plan.created)."""

    plan: PlanFacts
    sessions: Sequence[PlanSession]
    event_id: uuid.UUID


def record_plan_summary(uow: NotificationsUnitOfWork, cmd: RecordPlanSummary) -> list[Delivery]:
    """One message (e-mail with every session's invitation, and a text) for the whole plan.

    It is the sessions' booking confirmation: they get no confirmation of their own.
    """
    payload = {"sessions": _sessions_payload(uow, cmd.sessions)}
    return _record_plan_message(
        uow, cmd.plan, DeliveryKind.PLAN_SUMMARY, cmd.plan.plan_id, payload, cmd.event_id
    )


@dataclass(frozen=True)
class RecordPlanExtension:
    """Sessions were added to a treatment plan (scheduling.plan.extended)."""

    plan: PlanFacts
    total_sessions: int
    added: Sequence[PlanSession]
    event_id: uuid.UUID


def record_plan_extension(uow: NotificationsUnitOfWork, cmd: RecordPlanExtension) -> list[Delivery]:
    """One message per extension listing the added sessions (a plan may be extended more than once)."""
    ids = ",".join(sorted(str(s.appointment_id) for s in cmd.added))
    subject_id = uuid.uuid5(PLAN_EXTENSION_NAMESPACE, f"{cmd.plan.plan_id}:{ids}")
    payload = {"sessions": _sessions_payload(uow, cmd.added), "total_sessions": cmd.total_sessions}
    return _record_plan_message(uow, cmd.plan, DeliveryKind.PLAN_EXTENDED, subject_id, payload, cmd.event_id)


@dataclass(frozen=True)
class RecordPlanCancellation:
    """A treatment plan was cancelled with its remaining sessions (scheduling.plan.cancelled)."""

    plan: PlanFacts
    cancelled_appointment_ids: Sequence[uuid.UUID]
    event_id: uuid.UUID


def record_plan_cancellation(uow: NotificationsUnitOfWork, cmd: RecordPlanCancellation) -> list[Delivery]:
    """One message per plan naming the cancelled sessions (the e-mail removes them from the calendar).

    The event names sessions by id only; their times come from the appointment copies (scheduling
    announces each session's booking, and its cancellation before the plan's). ``cancelled_count`` counts
    them all, so a session whose copy never arrived is still counted. On a channel where the plan's
    summary has not gone out yet, nothing is sent: the summary, when it goes, leaves the cancelled
    sessions out (and is not sent at all if none is left).
    """
    known = [uow.repo.appointment(appointment_id) for appointment_id in cmd.cancelled_appointment_ids]
    sessions = [PlanSession(a.appointment_id, a.starts_at, a.ends_at) for a in known if a is not None]
    summaries = uow.repo.deliveries_for_appointment(cmd.plan.plan_id)
    unsent = {
        channel: NEVER_TOLD
        for channel in Channel
        if (told := [d for d in summaries if d.kind is DeliveryKind.PLAN_SUMMARY and d.channel is channel])
        and not any(d.went_out for d in told)
    }
    payload = {
        "sessions": _sessions_payload(uow, sessions),
        "cancelled_count": len(cmd.cancelled_appointment_ids),
    }
    return _record_plan_message(
        uow, cmd.plan, DeliveryKind.PLAN_CANCELLED, cmd.plan.plan_id, payload, cmd.event_id, unsent
    )


@dataclass(frozen=True)
class RecordPlanShortening:
    """A treatment plan was cut after sessions it keeps; the later ones were cancelled
    (scheduling.plan.shortened). The plan goes on with ``total_sessions``."""

    plan: PlanFacts
    total_sessions: int
    previous_total_sessions: int
    cancelled_appointment_ids: Sequence[uuid.UUID]
    event_id: uuid.UUID


def record_plan_shortening(uow: NotificationsUnitOfWork, cmd: RecordPlanShortening) -> list[Delivery]:
    """One message per shortening: the plan's new length and the cut sessions (the e-mail removes them
    from the calendar); the cut sessions' own cancellations are not sent (``plan_shortened``).

    As for a plan's cancellation, the sessions' times come from the appointment copies (their
    cancellations come first) and ``cancelled_count`` counts those never heard of too. On a channel where
    every cut session is still to be announced by a pending plan message, nothing is sent: that message,
    when it goes, leaves them out.
    """
    known = [uow.repo.appointment(appointment_id) for appointment_id in cmd.cancelled_appointment_ids]
    sessions = [PlanSession(a.appointment_id, a.starts_at, a.ends_at) for a in known if a is not None]
    pending = uow.repo.pending_deliveries(cmd.plan.patient_id, PLAN_ANNOUNCEMENT_KINDS)
    unsent = {
        channel: IN_PENDING_PLAN_MESSAGE
        for channel in Channel
        if untold(channel, cmd.cancelled_appointment_ids, pending)
    }
    ids = ",".join(sorted(str(i) for i in cmd.cancelled_appointment_ids))
    subject_id = uuid.uuid5(PLAN_SHORTENING_NAMESPACE, f"{cmd.plan.plan_id}:{ids}")
    payload = {
        "sessions": _sessions_payload(uow, sessions),
        "cancelled_count": len(cmd.cancelled_appointment_ids),
        "total_sessions": cmd.total_sessions,
        "previous_total_sessions": cmd.previous_total_sessions,
    }
    return _record_plan_message(
        uow, cmd.plan, DeliveryKind.PLAN_SHORTENED, subject_id, payload, cmd.event_id, unsent
    )


def _record_plan_message(
    uow: NotificationsUnitOfWork,
    plan: PlanFacts,
    kind: DeliveryKind,
    subject_id: uuid.UUID,
    payload: dict[str, Any],
    event_id: uuid.UUID,
    unsent: Mapping[Channel, str] | None = None,
) -> list[Delivery]:
    """Plan messages go by e-mail and by text: they stand in for the sessions' own messages."""
    return record_message(
        uow,
        RecordMessage(
            kind=kind,
            subject_id=subject_id,
            patient_id=plan.patient_id,
            clinic_id=plan.clinic_id,
            practitioner_id=plan.practitioner_id,
            treatment_type_id=plan.treatment_type_id,
            payload=payload,
            event_id=event_id,
            by_sms=True,
            unsent=unsent or {},
        ),
    )


def _sessions_payload(uow: NotificationsUnitOfWork, sessions: Sequence[PlanSession]) -> list[dict[str, Any]]:
    """Sessions in time order, each with the appointment's version as we know it (for the invitation)."""
    payload = []
    for session in sorted(sessions, key=lambda s: s.starts_at):
        copy = uow.repo.appointment(session.appointment_id)
        payload.append(
            {
                "appointment_id": str(session.appointment_id),
                "sequence": copy.sequence if copy is not None else 0,
                "starts_at": session.starts_at.isoformat(),
                "ends_at": session.ends_at.isoformat(),
            }
        )
    return payload


def current_sessions(
    uow: NotificationsUnitOfWork, sessions: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """A plan message's sessions as they are now: cancelled ones left out, moved ones at their new time."""
    current = []
    for session in sessions:
        appointment_id = session.get("appointment_id")
        copy = uow.repo.appointment(uuid.UUID(appointment_id)) if appointment_id else None
        if copy is None:
            current.append(dict(session))
        elif not copy.cancelled:
            current.append(
                {
                    "appointment_id": appointment_id,
                    "sequence": copy.sequence,
                    "starts_at": copy.starts_at.isoformat(),
                    "ends_at": copy.ends_at.isoformat(),
                }
            )
    return sorted(current, key=lambda s: datetime.fromisoformat(s["starts_at"]))
