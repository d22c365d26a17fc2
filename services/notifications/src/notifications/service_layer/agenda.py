"""Each practitioner's daily agenda e-mail, and where it goes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic_shared.tokens import Principal
from notifications.domain.appointments import AppointmentCopy
from notifications.domain.channels import Channel
from notifications.domain.copies import PractitionerInfo
from notifications.domain.deliveries import Delivery
from notifications.domain.errors import NotFound
from notifications.domain.instants import require_utc
from notifications.domain.kinds import DeliveryKind
from notifications.service_layer.tenancy import acts_in
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

# Agenda deliveries are keyed by a name derived from (practitioner, local day): one per practitioner a day.
AGENDA_NAMESPACE = uuid.UUID("6f1d3c3e-2a53-4f0e-9d54-5a1c2b7e9a10")
DEFAULT_AGENDA_TIME = time(6, 30)


def record_daily_agendas(uow: NotificationsUnitOfWork, agenda_time: time = DEFAULT_AGENDA_TIME) -> int:
    """Record today's agenda e-mail for each practitioner who has an agenda address and appointments today.

    "Today" and ``agenda_time`` are the clinic's local ones; from that time on, each practitioner's agenda
    is recorded once (the unique key), listing the day's appointments (first name, time, treatment) as
    notifications knows them then. An agenda not sent by the end of its day is skipped. Returns how many
    were recorded.
    """
    now = uow.clock.now()
    recorded = 0
    for clinic in uow.repo.all_clinics():
        zone = ZoneInfo(clinic.timezone)
        local = now.astimezone(zone)
        if local.time() < agenda_time:
            continue
        day = local.date()
        start = require_utc(datetime.combine(day, time(0), tzinfo=zone), "start")
        end = require_utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone), "end")
        by_practitioner: dict[uuid.UUID, list[AppointmentCopy]] = {}
        for appointment in uow.repo.appointments_between(clinic.clinic_id, start, end):
            by_practitioner.setdefault(appointment.practitioner_id, []).append(appointment)
        for practitioner_id, day_appointments in by_practitioner.items():
            practitioner = uow.repo.practitioner(practitioner_id)
            if practitioner is None or not practitioner.agenda_email:
                continue
            subject_id = uuid.uuid5(AGENDA_NAMESPACE, f"{practitioner_id}:{day.isoformat()}")
            key = Delivery.key_for(subject_id, DeliveryKind.PRACTITIONER_AGENDA, Channel.EMAIL, 0)
            if uow.repo.delivery_by_key(key) is not None:
                continue
            delivery = Delivery.record_message(
                delivery_id=uow.new_id(),
                kind=DeliveryKind.PRACTITIONER_AGENDA,
                subject_id=subject_id,
                patient_id=None,
                clinic_id=clinic.clinic_id,
                payload={"day": day.isoformat(), "agenda": [_agenda_line(uow, a) for a in day_appointments]},
                # No event caused it: the job's own subject id stands in for one.
                event_id=subject_id,
                now=now,
                due_at=now,
                practitioner_id=practitioner_id,
            )
            delivery.expires_at = end
            uow.repo.add(delivery)
            recorded += 1
    return recorded


def _agenda_line(uow: NotificationsUnitOfWork, appointment: AppointmentCopy) -> dict[str, str]:
    contact = uow.repo.contact(appointment.patient_id)
    treatment = uow.repo.treatment_type(appointment.treatment_type_id)
    return {
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "first_name": contact.first_name if contact else "",
        "treatment": treatment.name if treatment else "",
    }


@dataclass(frozen=True)
class SetAgendaAddress:
    practitioner_id: uuid.UUID
    email: str | None


def set_agenda_address(
    uow: NotificationsUnitOfWork, actor: Principal, cmd: SetAgendaAddress
) -> PractitionerInfo:
    """Where a practitioner's daily agenda goes (None: nowhere); the practitioner must be known here, and
    be of the actor's clinic unless the actor is organisation-wide (another clinic's is not found)."""
    practitioner = uow.repo.practitioner(cmd.practitioner_id)
    if practitioner is None or not acts_in(actor, practitioner.clinic_id):
        raise NotFound("practitioner not found", field="practitioner_id")
    practitioner.agenda_email = cmd.email
    return practitioner
