"""What a message says, decided before any template is rendered.

Rules: the patient's language if we write it (English and French), else English; times are shown in the
clinic's zone, never the server's; a message names the patient by first name, the clinic (name, address,
phone), the practitioner and the treatment, and nothing clinical.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifications.domain.channels import Channel, email_deliverable
from notifications.domain.copies import ClinicInfo, Contact, PractitionerInfo, TreatmentInfo
from notifications.domain.deliveries import Delivery
from notifications.domain.errors import NoAddress
from notifications.domain.kinds import (
    ACCOUNT_KINDS,
    CANCELLATION_KINDS,
    NO_INVITATION_KINDS,
    PLAN_KINDS,
    STAFF_KINDS,
    DeliveryKind,
)

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


def choose_language(preferred: str | None) -> str:
    """The patient's language when we have templates for it, otherwise English."""
    language = (preferred or "").strip().lower()[:2]
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class CalendarEntry:
    """One appointment in a message's calendar invitation (a plan's message carries one per session)."""

    appointment_id: uuid.UUID
    sequence: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Notice:
    """Everything one message may say, resolved from the delivery and the local copies."""

    delivery_id: uuid.UUID
    message_id: str
    key: str
    kind: DeliveryKind
    channel: Channel
    language: str
    recipient: str
    first_name: str
    appointment_id: uuid.UUID
    sequence: int
    starts_at: datetime | None
    ends_at: datetime | None
    timezone: str
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    clinic_email: str
    practitioner_name: str
    treatment_name: str
    created_at: datetime
    expires_at: datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def has_time(self) -> bool:
        return self.starts_at is not None and self.ends_at is not None

    @property
    def local_start(self) -> datetime:
        if self.starts_at is None:
            raise ValueError("this message is about no appointment time")
        return self.starts_at.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        if self.ends_at is None:
            raise ValueError("this message is about no appointment time")
        return self.ends_at.astimezone(self.zone)

    @property
    def is_cancellation(self) -> bool:
        return self.kind in CANCELLATION_KINDS

    @property
    def for_staff(self) -> bool:
        """An alert to the clinic's front desk, written in English."""
        return self.kind in STAFF_KINDS

    @property
    def calendar_entries(self) -> list[CalendarEntry]:
        """The appointments the message's invitation adds, updates or removes (none: no invitation)."""
        if self.kind in NO_INVITATION_KINDS:
            return []
        if self.kind in PLAN_KINDS:
            sessions = self.payload.get("sessions", [])
            # Plan messages recorded before sessions carried their ids cannot name calendar events.
            if any("appointment_id" not in session for session in sessions):
                return []
            return [
                CalendarEntry(
                    appointment_id=uuid.UUID(session["appointment_id"]),
                    sequence=int(session.get("sequence", 0)),
                    starts_at=datetime.fromisoformat(session["starts_at"]),
                    ends_at=datetime.fromisoformat(session["ends_at"]),
                )
                for session in sessions
            ]
        if self.starts_at is None or self.ends_at is None:
            return []
        return [CalendarEntry(self.appointment_id, self.sequence, self.starts_at, self.ends_at)]

    @property
    def has_invitation(self) -> bool:
        return bool(self.calendar_entries)

    @property
    def local_expiry(self) -> datetime | None:
        return self.expires_at.astimezone(self.zone) if self.expires_at else None


def compose(
    delivery: Delivery,
    contact: Contact | None,
    clinic: ClinicInfo,
    practitioner: PractitionerInfo | None,
    treatment: TreatmentInfo | None,
) -> Notice:
    """Resolve a delivery into a Notice; NoAddress when the patient cannot be reached on its channel.

    A staff alert goes to the clinic's e-mail address instead (a practitioner's agenda to theirs), in
    English.
    """
    staff = delivery.kind in STAFF_KINDS
    if delivery.kind is DeliveryKind.PRACTITIONER_AGENDA:
        recipient = practitioner.agenda_email if practitioner else None
    elif staff or contact is None:
        recipient = clinic.email
    else:
        recipient = contact.address_on(delivery.channel)
    if not recipient:
        whose = "the practitioner has no agenda" if staff else f"the patient has no {delivery.channel}"
        raise NoAddress(f"{whose} address")
    return Notice(
        delivery_id=delivery.id,
        message_id=delivery.message_id,
        key=delivery.key,
        kind=delivery.kind,
        channel=delivery.channel,
        language=DEFAULT_LANGUAGE if staff or contact is None else choose_language(contact.message_language),
        recipient=recipient,
        first_name=contact.first_name if contact else "",
        appointment_id=delivery.appointment_id,
        sequence=delivery.sequence,
        starts_at=delivery.starts_at,
        ends_at=delivery.ends_at,
        timezone=clinic.timezone,
        clinic_name=clinic.name,
        clinic_address=clinic.address,
        clinic_phone=clinic.phone,
        clinic_email=clinic.email,
        practitioner_name=practitioner.display_name if practitioner else "",
        treatment_name=treatment.name if treatment else "",
        created_at=delivery.created_at,
        expires_at=delivery.expires_at,
        payload=delivery.payload or {},
    )


def compose_account_message(delivery: Delivery) -> Notice:
    """Resolve a message about a login (a password-reset link) into a Notice.

    Everything it says came with the event and is in the payload: the account's address, language and
    first name (staff accounts have no contact copy here) and the link's token. No clinic sends it, so the
    clinic's parts are empty; it always goes to the account's address, whatever channel choices a patient
    made (they asked for it themselves).
    """
    if delivery.kind not in ACCOUNT_KINDS:
        raise ValueError(f"{delivery.kind} is not a message about an account")
    payload = delivery.payload or {}
    recipient = payload.get("email")
    if delivery.channel is not Channel.EMAIL or not recipient:
        raise NoAddress("the account has no e-mail address")
    if not email_deliverable(recipient):
        raise NoAddress("the account's e-mail address cannot receive mail (reserved .invalid domain)")
    return Notice(
        delivery_id=delivery.id,
        message_id=delivery.message_id,
        key=delivery.key,
        kind=delivery.kind,
        channel=delivery.channel,
        language=choose_language(payload.get("language")),
        recipient=recipient,
        first_name=payload.get("first_name") or "",
        appointment_id=delivery.appointment_id,
        sequence=delivery.sequence,
        starts_at=None,
        ends_at=None,
        timezone="UTC",
        clinic_name="",
        clinic_address="",
        clinic_phone="",
        clinic_email="",
        practitioner_name="",
        treatment_name="",
        created_at=delivery.created_at,
        expires_at=delivery.expires_at,
        payload=payload,
    )


@dataclass(frozen=True)
class When:
    """An appointment's local date and time, worded for one language."""

    date: str
    start: str
    end: str
    zone: str
    short: str  # for SMS


_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_MINUS_SIGN = "\u2212"


def describe_when(notice: Notice) -> When:
    """Local date, times and zone of the appointment in the notice's language (no locale database needed)."""
    return describe_span(notice.local_start, notice.local_end, notice.timezone, notice.language)


def describe_span(start: datetime, end: datetime, timezone: str, language: str) -> When:
    """Local date, times and zone of ``start``-``end`` (already in ``timezone``) worded for ``language``."""
    city = timezone.rsplit("/", 1)[-1].replace("_", " ")
    offset = _utc_offset(start)
    if language == "fr":
        day = "1er" if start.day == 1 else str(start.day)
        date = f"{_FR_DAYS[start.weekday()]} {day} {_FR_MONTHS[start.month - 1]} {start.year}"
        return When(
            date=date,
            start=_fr_time(start),
            end=_fr_time(end),
            zone=f"heure de {city}, {offset}",
            short=f"{_FR_DAYS[start.weekday()][:3]}. {day} {_FR_MONTHS[start.month - 1]} à {_fr_time(start)}",
        )
    abbreviation = start.tzname() or offset
    date = f"{_EN_DAYS[start.weekday()]}, {_EN_MONTHS[start.month - 1]} {start.day}, {start.year}"
    return When(
        date=date,
        start=_en_time(start),
        end=_en_time(end),
        zone=f"{abbreviation}, {city} time",
        short=(
            f"{_EN_DAYS[start.weekday()][:3]} {_EN_MONTHS[start.month - 1][:3]} {start.day} "
            f"at {_en_time(start)} {abbreviation}"
        ),
    )


def _en_time(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _fr_time(moment: datetime) -> str:
    return f"{moment.hour} h {moment.minute:02d}"


def _utc_offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else _MINUS_SIGN
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def describe_date(day: date, language: str) -> str:
    """A calendar date worded for ``language`` (e.g. a due date)."""
    if language == "fr":
        return f"{'1er' if day.day == 1 else day.day} {_FR_MONTHS[day.month - 1]} {day.year}"
    return f"{_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"


def describe_amount(cents: int, currency: str, language: str) -> str:
    """Integer minor units as text, e.g. ``CAD 95.00`` or ``95,00 CAD`` (no floats on the way)."""
    sign = "-" if cents < 0 else ""
    units, minor = divmod(abs(cents), 100)
    if language == "fr":
        return f"{sign}{units},{minor:02d} {currency}"
    return f"{currency} {sign}{units}.{minor:02d}"
