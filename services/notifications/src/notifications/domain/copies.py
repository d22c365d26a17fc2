"""Reference copies of what scheduling tells us of patients (contacts), clinics, practitioners, treatments.

Copies are fed by scheduling's events, which may arrive out of order: each copy remembers the ``as_of``
instant of the event it reflects and ignores older news. A contact also holds the patient's own choices
(channels, language, promotional consent), which scheduling's updates never touch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from notifications.domain.channels import Channel, email_deliverable
from notifications.domain.consent import PROMOTIONAL, TRANSACTIONAL, ConsentKind, ConsentRecord


class ReferenceCopy:
    """A record notifications keeps from another service's events; ``as_of`` is when its source event
    happened."""

    as_of: datetime

    def refresh(self, as_of: datetime, facts: Mapping[str, object]) -> bool:
        """Take the facts of a newer event; an older one (delivered late) changes nothing."""
        if as_of < self.as_of:
            return False
        for name, value in facts.items():
            setattr(self, name, value)
        self.as_of = as_of
        return True


@dataclass
class Contact(ReferenceCopy):
    """How to reach a patient, in which language. Only what messages need: no last name, nothing clinical."""

    patient_id: uuid.UUID
    first_name: str
    email: str
    phone: str | None
    language: str
    as_of: datetime
    # The patient's own choices, which scheduling's updates never touch: SMS withdrawn (e.g. STOP), no
    # e-mail wanted, a language other than the one scheduling holds, express consent to promotional messages.
    sms_opted_out_at: datetime | None = None
    email_opted_out_at: datetime | None = None
    preferred_language: str | None = None
    promotional_consent_at: datetime | None = None

    def address_on(self, channel: Channel) -> str | None:
        """The address to send to on ``channel``; None when there is none that can receive a message (no
        phone, or an erased patient's e-mail address in the reserved .invalid domain)."""
        if channel is Channel.EMAIL:
            return self.email if self.email_deliverable else None
        return self.phone

    @property
    def email_deliverable(self) -> bool:
        """False for an erased patient's address (reserved .invalid domain): nothing is sent there."""
        return email_deliverable(self.email)

    @property
    def message_language(self) -> str:
        return self.preferred_language or self.language

    @property
    def sms_allowed(self) -> bool:
        return bool(self.phone) and self.sms_opted_out_at is None

    def wants(self, channel: Channel) -> bool:
        """False once the patient opted out of ``channel`` (honoured even for transactional messages)."""
        opted_out = self.sms_opted_out_at if channel is Channel.SMS else self.email_opted_out_at
        return opted_out is None

    def opt_out_of_sms(self, now: datetime) -> bool:
        """Withdraw SMS consent; False when it was already withdrawn (so the opt-out is confirmed once)."""
        if self.sms_opted_out_at is not None:
            return False
        self.sms_opted_out_at = now
        return True

    def opt_in_to_sms(self) -> bool:
        """Give SMS consent back (e.g. START); False when it was not withdrawn (so it is confirmed once)."""
        if self.sms_opted_out_at is None:
            return False
        self.sms_opted_out_at = None
        return True

    def choose(
        self,
        now: datetime,
        *,
        email: bool,
        sms: bool,
        language: str | None,
        promotional: bool,
    ) -> list[tuple[Channel, ConsentKind, str]]:
        """Apply the patient's preferences; returns the consent changes to record (channel, kind, purpose)."""
        changes: list[tuple[Channel, ConsentKind, str]] = []
        for channel, wanted in ((Channel.EMAIL, email), (Channel.SMS, sms)):
            field = "email_opted_out_at" if channel is Channel.EMAIL else "sms_opted_out_at"
            if wanted and getattr(self, field) is not None:
                setattr(self, field, None)
                changes.append((channel, ConsentKind.EXPRESS, TRANSACTIONAL))
            elif not wanted and getattr(self, field) is None:
                setattr(self, field, now)
                changes.append((channel, ConsentKind.WITHDRAWN, TRANSACTIONAL))
        if promotional and self.promotional_consent_at is None:
            self.promotional_consent_at = now
            changes.append((Channel.EMAIL, ConsentKind.EXPRESS, PROMOTIONAL))
        elif not promotional and self.promotional_consent_at is not None:
            self.promotional_consent_at = None
            changes.append((Channel.EMAIL, ConsentKind.WITHDRAWN, PROMOTIONAL))
        self.preferred_language = language
        return changes

    def resume_choices(self, records: Iterable[ConsentRecord]) -> None:
        """Start a new copy from the choices the patient recorded before it arrived (the latest of each).

        A patient may choose how to be contacted (e.g. right after signing up) before scheduling's news of
        them reaches us; those choices are kept as consent records and applied here.
        """
        for record in records:  # oldest first: the latest choice wins
            if record.purpose == PROMOTIONAL:
                given = record.kind is ConsentKind.EXPRESS
                self.promotional_consent_at = record.recorded_at if given else None
            elif record.channel is Channel.SMS:
                withdrawn = record.kind is ConsentKind.WITHDRAWN
                self.sms_opted_out_at = record.recorded_at if withdrawn else None
            else:
                withdrawn = record.kind is ConsentKind.WITHDRAWN
                self.email_opted_out_at = record.recorded_at if withdrawn else None

    def update(
        self, *, first_name: str, email: str, phone: str | None, language: str, as_of: datetime
    ) -> bool:
        """Apply newer contact details; False (and no change) when ``as_of`` is older than ours.

        Only scheduling's facts change: the patient's own choices are left as they are.
        """
        facts = {"first_name": first_name, "email": email, "phone": phone, "language": language}
        return self.refresh(as_of, facts)


@dataclass
class ClinicInfo(ReferenceCopy):
    """What a message says about the clinic: its name, zone (for local times), address and how to call."""

    clinic_id: uuid.UUID
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    as_of: datetime

    def update(
        self, *, name: str, timezone: str, address: str, phone: str, email: str, as_of: datetime
    ) -> bool:
        facts = {"name": name, "timezone": timezone, "address": address, "phone": phone, "email": email}
        return self.refresh(as_of, facts)


@dataclass
class PractitionerInfo(ReferenceCopy):
    """A practitioner as messages name them; ``agenda_email`` (set by an admin here, never by scheduling's
    events) is where their daily agenda goes, if anywhere. ``clinic_id`` is the clinic scheduling says they
    work at (None only for a copy made before notifications kept it and never backfilled): its staff, and
    organisation-wide staff, may change their agenda address."""

    practitioner_id: uuid.UUID
    display_name: str
    as_of: datetime
    agenda_email: str | None = None
    clinic_id: uuid.UUID | None = None

    def update(self, *, display_name: str, as_of: datetime, clinic_id: uuid.UUID | None = None) -> bool:
        """Apply a newer name, and the clinic when the news names one (news without one keeps ours)."""
        facts: dict[str, object] = {"display_name": display_name}
        if clinic_id is not None:
            facts["clinic_id"] = clinic_id
        return self.refresh(as_of, facts)


@dataclass
class TreatmentInfo(ReferenceCopy):
    treatment_type_id: uuid.UUID
    name: str
    as_of: datetime

    def update(self, *, name: str, as_of: datetime) -> bool:
        return self.refresh(as_of, {"name": name})


@dataclass(frozen=True)
class ReferenceCopies:
    """The copies a batch of deliveries refers to, by id, read together rather than once per delivery.

    A lookup by an id it does not hold (a copy that has not arrived, or no id at all) gives None.
    """

    contacts: Mapping[uuid.UUID, Contact]
    clinics: Mapping[uuid.UUID, ClinicInfo]
    practitioners: Mapping[uuid.UUID, PractitionerInfo]
    treatments: Mapping[uuid.UUID, TreatmentInfo]

    def contact(self, patient_id: uuid.UUID | None) -> Contact | None:
        return self.contacts.get(patient_id) if patient_id else None

    def clinic(self, clinic_id: uuid.UUID | None) -> ClinicInfo | None:
        return self.clinics.get(clinic_id) if clinic_id else None

    def practitioner(self, practitioner_id: uuid.UUID | None) -> PractitionerInfo | None:
        return self.practitioners.get(practitioner_id) if practitioner_id else None

    def treatment(self, treatment_type_id: uuid.UUID | None) -> TreatmentInfo | None:
        return self.treatments.get(treatment_type_id) if treatment_type_id else None
