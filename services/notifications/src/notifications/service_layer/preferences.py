"""A patient's contact preferences and consents (CASL, PIPA BC), with the record of every change."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clinic_shared.tokens import Principal
from notifications.domain.channels import Channel
from notifications.domain.consent import PROMOTIONAL, TRANSACTIONAL, ConsentKind, ConsentRecord
from notifications.domain.copies import Contact
from notifications.domain.errors import NotFound, NotYet
from notifications.service_layer.queries import get_contact
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


@dataclass(frozen=True)
class Preferences:
    """A patient's channels, language and consents, with the record of every consent change."""

    contact: Contact
    consents: Sequence[ConsentRecord]


@dataclass(frozen=True)
class ChangePreferences:
    patient_id: uuid.UUID
    email: bool
    sms: bool
    language: str | None
    promotional: bool


def get_preferences(uow: NotificationsUnitOfWork, actor: Principal, patient_id: uuid.UUID) -> Preferences:
    """The patient themself, front desk and admins (others: as for contacts)."""
    contact = get_contact(uow, actor, patient_id)
    return Preferences(contact, uow.repo.consent_records(patient_id))


def change_preferences(
    uow: NotificationsUnitOfWork, actor: Principal, cmd: ChangePreferences
) -> Preferences | None:
    """Apply the choices at once (pending messages on a withdrawn channel are skipped when due), record each
    consent change with who made it, and publish notifications.contact.opted_out for each withdrawal.

    The patient themself may choose before their contact copy has arrived from scheduling (right after
    signing up): the choices are then recorded as consent records, which the copy starts from when it
    arrives (``sync_patient``), and None is returned. A language can only be chosen once the copy exists.
    """
    now = uow.clock.now()
    own = actor.patient_id == cmd.patient_id
    source = "preferences by the patient" if own else "preferences by staff"
    if own:
        uow.repo.lock_contact(cmd.patient_id)  # the copy may be arriving from scheduling right now
    try:
        contact = get_contact(uow, actor, cmd.patient_id)
    except NotFound:
        if not own:
            raise
        _record_choices_ahead_of_contact(uow, cmd, now, source)
        return None
    changes = contact.choose(
        now, email=cmd.email, sms=cmd.sms, language=cmd.language, promotional=cmd.promotional
    )
    for channel, kind, purpose in changes:
        uow.repo.add(ConsentRecord(uow.new_id(), contact.patient_id, channel, kind, now, source, purpose))
        if kind is ConsentKind.WITHDRAWN and purpose == TRANSACTIONAL:
            uow.emit(
                "notifications.contact.opted_out",
                {"patient_id": contact.patient_id, "channel": channel.value, "opted_out_at": now},
            )
    return Preferences(contact, uow.repo.consent_records(cmd.patient_id))


def _record_choices_ahead_of_contact(
    uow: NotificationsUnitOfWork, cmd: ChangePreferences, now: datetime, source: str
) -> None:
    if cmd.language is not None:
        raise NotYet(
            "the patient's contact details have not arrived from scheduling yet; choose a language once "
            "they have (or change it in scheduling)",
            field="language",
        )
    choices = [
        (Channel.EMAIL, ConsentKind.EXPRESS if cmd.email else ConsentKind.WITHDRAWN, TRANSACTIONAL),
        (Channel.SMS, ConsentKind.EXPRESS if cmd.sms else ConsentKind.WITHDRAWN, TRANSACTIONAL),
    ]
    promotional = [r for r in uow.repo.consent_records(cmd.patient_id) if r.purpose == PROMOTIONAL]
    consented = bool(promotional) and promotional[-1].kind is ConsentKind.EXPRESS
    if cmd.promotional != consented:
        kind = ConsentKind.EXPRESS if cmd.promotional else ConsentKind.WITHDRAWN
        choices.append((Channel.EMAIL, kind, PROMOTIONAL))
    for channel, kind, purpose in choices:
        uow.repo.add(ConsentRecord(uow.new_id(), cmd.patient_id, channel, kind, now, source, purpose))
        if kind is ConsentKind.WITHDRAWN and purpose == TRANSACTIONAL:
            uow.emit(
                "notifications.contact.opted_out",
                {"patient_id": cmd.patient_id, "channel": channel.value, "opted_out_at": now},
            )
