"""Texts from patients: CONFIRM, STOP, START and HELP."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from notifications.domain.appointments import AppointmentCopy
from notifications.domain.channels import Channel
from notifications.domain.composition import choose_language
from notifications.domain.consent import ConsentKind, ConsentRecord
from notifications.domain.copies import Contact
from notifications.domain.inbound import ClinicContact, Command, InboundSms, parse_command, reply_text
from notifications.domain.phones import to_e164
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)

# How a consent given back by text is recorded (CASL: how consent was obtained).
SMS_KEYWORD_START = "sms keyword START"


@dataclass(frozen=True)
class ReceiveSms:
    """A text a patient sent (the provider's inbound webhook, already verified)."""

    message_sid: str
    from_phone: str
    body: str


def receive_sms(uow: NotificationsUnitOfWork, cmd: ReceiveSms) -> str | None:
    """Act on a patient's reply and return the answer to text back, or None for no answer.

    CONFIRM confirms the patient's next appointment (scheduling hears of it through
    notifications.appointment.confirmation_received; its reminders stop now). STOP withdraws SMS consent
    at once, keeps a consent record and publishes notifications.contact.opted_out; it is answered the
    first time only. START gives SMS consent back (express, kept on record), also answered once only.
    HELP answers with the clinic's contact details. The same webhook delivered twice (same message sid)
    does nothing the second time; texts from unknown numbers get no answer.
    """
    now = uow.clock.now()
    if uow.repo.inbound_sms(cmd.message_sid) is not None:
        return None
    phone = to_e164(cmd.from_phone)
    patients = list(uow.repo.contacts_by_phone(phone)) if phone else []
    command = parse_command(cmd.body)
    inbound = InboundSms(
        cmd.message_sid, patients[0].patient_id if patients else None, command.value if command else None, now
    )
    uow.repo.add(inbound)
    reply: str | None = None
    if patients and command is not None:
        language = choose_language(patients[0].message_language)
        ids = [p.patient_id for p in patients]
        if command is Command.CONFIRM:
            reply = _confirm_next(uow, patients, language, inbound, now)
        elif command is Command.STOP:
            reply = _opt_out(uow, patients, language, now)
        elif command is Command.START:
            reply = _opt_in(uow, patients, language, now)
        else:
            reply = reply_text("help", language, _clinic_contact(uow, uow.repo.latest_appointment(ids)))
    log.info(
        "inbound sms %s: patient %s, command %s",
        cmd.message_sid,
        inbound.patient_id,
        inbound.command or "none",
    )
    return reply


def _confirm_next(
    uow: NotificationsUnitOfWork, patients: list[Contact], language: str, inbound: InboundSms, now: datetime
) -> str:
    appointment = uow.repo.next_appointment([p.patient_id for p in patients], now)
    if appointment is None:
        latest = uow.repo.latest_appointment([p.patient_id for p in patients])
        return reply_text("nothing_to_confirm", language, _clinic_contact(uow, latest))
    appointment.confirm(appointment.sequence, now)
    inbound.appointment_id = appointment.appointment_id
    uow.emit(
        "notifications.appointment.confirmation_received",
        {
            "appointment_id": appointment.appointment_id,
            "patient_id": appointment.patient_id,
            "channel": Channel.SMS.value,
            "received_at": now,
        },
    )
    patient = next(p for p in patients if p.patient_id == appointment.patient_id)
    return reply_text("confirmed", language, _clinic_contact(uow, appointment), patient.first_name)


def _opt_out(
    uow: NotificationsUnitOfWork, patients: list[Contact], language: str, now: datetime
) -> str | None:
    withdrawn = [p for p in patients if p.opt_out_of_sms(now)]
    for patient in withdrawn:
        uow.repo.add(
            ConsentRecord(
                uow.new_id(), patient.patient_id, Channel.SMS, ConsentKind.WITHDRAWN, now, "sms reply STOP"
            )
        )
        uow.emit(
            "notifications.contact.opted_out",
            {"patient_id": patient.patient_id, "channel": Channel.SMS.value, "opted_out_at": now},
        )
    if not withdrawn:
        return None
    latest = uow.repo.latest_appointment([p.patient_id for p in patients])
    return reply_text("stopped", language, _clinic_contact(uow, latest))


def _opt_in(
    uow: NotificationsUnitOfWork, patients: list[Contact], language: str, now: datetime
) -> str | None:
    """Express consent given by text: SMS messages recorded from now on go out again."""
    renewed = [p for p in patients if p.opt_in_to_sms()]
    for patient in renewed:
        uow.repo.add(
            ConsentRecord(
                uow.new_id(), patient.patient_id, Channel.SMS, ConsentKind.EXPRESS, now, SMS_KEYWORD_START
            )
        )
    if not renewed:
        return None
    latest = uow.repo.latest_appointment([p.patient_id for p in patients])
    return reply_text("started", language, _clinic_contact(uow, latest))


def _clinic_contact(
    uow: NotificationsUnitOfWork, appointment: AppointmentCopy | None
) -> ClinicContact | None:
    clinic = uow.repo.clinic(appointment.clinic_id) if appointment else None
    if clinic is None:
        return None
    return ClinicContact(clinic.name, clinic.address, clinic.phone, clinic.email)
