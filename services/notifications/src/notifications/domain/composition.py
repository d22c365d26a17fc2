"""What a message says, decided before any template is rendered.

Rules: the patient's language if we write it (English and French), else English; times are shown in the
clinic's zone, never the server's; a message names the patient by first name, the clinic (name, address,
phone), the practitioner and the treatment, and nothing clinical.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from notifications.domain.errors import NoAddress
from notifications.domain.model import (
    Channel,
    ClinicInfo,
    Contact,
    Delivery,
    DeliveryKind,
    PractitionerInfo,
    TreatmentInfo,
)

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


def choose_language(preferred: str | None) -> str:
    """The patient's language when we have templates for it, otherwise English."""
    language = (preferred or "").strip().lower()[:2]
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


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
    starts_at: datetime
    ends_at: datetime
    timezone: str
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    clinic_email: str
    practitioner_name: str
    treatment_name: str
    created_at: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(self.zone)

    @property
    def is_cancellation(self) -> bool:
        return self.kind is DeliveryKind.CANCELLATION


def compose(
    delivery: Delivery,
    contact: Contact,
    clinic: ClinicInfo,
    practitioner: PractitionerInfo,
    treatment: TreatmentInfo,
) -> Notice:
    """Resolve a delivery into a Notice; NoAddress when the patient cannot be reached on its channel."""
    recipient = contact.address_on(delivery.channel)
    if not recipient:
        raise NoAddress(f"the patient has no {delivery.channel} address")
    return Notice(
        delivery_id=delivery.id,
        message_id=delivery.message_id,
        key=delivery.key,
        kind=delivery.kind,
        channel=delivery.channel,
        language=choose_language(contact.language),
        recipient=recipient,
        first_name=contact.first_name,
        appointment_id=delivery.appointment_id,
        sequence=delivery.sequence,
        starts_at=delivery.starts_at,
        ends_at=delivery.ends_at,
        timezone=clinic.timezone,
        clinic_name=clinic.name,
        clinic_address=clinic.address,
        clinic_phone=clinic.phone,
        clinic_email=clinic.email,
        practitioner_name=practitioner.display_name,
        treatment_name=treatment.name,
        created_at=delivery.created_at,
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
    start, end = notice.local_start, notice.local_end
    city = notice.timezone.rsplit("/", 1)[-1].replace("_", " ")
    offset = _utc_offset(start)
    if notice.language == "fr":
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
