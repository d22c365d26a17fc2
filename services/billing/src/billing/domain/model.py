"""Price lists, charges, and billing's local copies of scheduling's clinics, staff, treatments and patients.

Billing never reads scheduling's database: the copies are kept from scheduling's events and may lag or
arrive out of order, so each remembers the time of the event it reflects and ignores older ones.

A price applies from its effective date onwards, in the clinic's local calendar, and never retroactively:
a charge copies the amount it was priced at, so later price changes never rewrite it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.domain.errors import CurrencyMismatch, InvalidTransition, RuleViolation
from billing.domain.money import Money
from billing.domain.packages import Package

# --- local copies of scheduling's records ---------------------------------------------------------------


class ReferenceCopy:
    """A record billing keeps from another service's events; ``as_of`` is when its source event happened."""

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
class Clinic(ReferenceCopy):
    id: uuid.UUID
    code: str
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    currency: str
    as_of: datetime

    @property
    def zone(self) -> tzinfo:
        return zone_or_utc(self.timezone)


@dataclass
class Practitioner(ReferenceCopy):
    id: uuid.UUID
    clinic_id: uuid.UUID
    display_name: str
    registration_number: str
    active: bool
    as_of: datetime


@dataclass
class TreatmentType(ReferenceCopy):
    id: uuid.UUID
    clinic_id: uuid.UUID
    code: str
    name: str
    kind: str
    duration_minutes: int
    active: bool
    as_of: datetime


@dataclass
class Patient(ReferenceCopy):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    phone: str | None
    language: str
    as_of: datetime


def zone_or_utc(name: str | None) -> tzinfo:
    """The IANA zone called ``name``; UTC when it is unknown here (scheduling validated it already)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_of(clinic: Clinic | None) -> tzinfo:
    """The clinic's time zone; UTC until its copy has arrived."""
    return clinic.zone if clinic is not None else UTC


def local_date(instant: datetime, zone: tzinfo) -> date:
    """The calendar date of ``instant`` on a wall clock in ``zone``."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(zone).date()


# --- price lists -----------------------------------------------------------------------------------------


@dataclass
class PriceListEntry:
    """What one treatment type costs at one clinic from ``effective_from`` until the next entry."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    treatment_type_id: uuid.UUID
    effective_from: date
    price: Money
    created_at: datetime
    updated_at: datetime


@dataclass
class PriceList:
    """All entries for one (clinic, treatment type): the aggregate that guards price history."""

    clinic_id: uuid.UUID
    treatment_type_id: uuid.UUID
    entries: list[PriceListEntry] = field(default_factory=list)

    def price_on(self, day: date) -> PriceListEntry | None:
        """The entry in force on ``day``: the latest one effective on or before it, never a future one."""
        return price_on(self.entries, day)

    def set(
        self, *, entry_id: uuid.UUID, price: Money, effective_from: date, today: date, now: datetime
    ) -> tuple[PriceListEntry, bool]:
        """Set the price from ``effective_from``; returns the entry and whether it is new.

        The same date again replaces that entry. Once a price list exists, changes apply from today
        (the clinic's date) onwards; only the first price may be back-dated. Charges keep the amount they
        were priced at either way.
        """
        if self.entries and effective_from < today:
            raise RuleViolation(
                "a price change applies from today or later, never retroactively", field="effective_from"
            )
        if any(entry.price.currency != price.currency for entry in self.entries):
            raise CurrencyMismatch("a price list has a single currency", field="currency")
        for entry in self.entries:
            if entry.effective_from == effective_from:
                entry.price = price
                entry.updated_at = now
                return entry, False
        entry = PriceListEntry(
            id=entry_id,
            clinic_id=self.clinic_id,
            treatment_type_id=self.treatment_type_id,
            effective_from=effective_from,
            price=price,
            created_at=now,
            updated_at=now,
        )
        self.entries.append(entry)
        return entry, True


def price_on(entries: Iterable[PriceListEntry], day: date) -> PriceListEntry | None:
    """The latest entry effective on or before ``day``, or None when there is none yet."""
    in_force = [entry for entry in entries if entry.effective_from <= day]
    return max(in_force, key=lambda entry: entry.effective_from, default=None)


# --- charges ---------------------------------------------------------------------------------------------


class ChargeKind(enum.StrEnum):
    """What a charge is for; one charge per appointment and kind."""

    APPOINTMENT = "appointment"
    LATE_CANCEL_FEE = "late_cancel_fee"
    NO_SHOW_FEE = "no_show_fee"

    @property
    def is_fee(self) -> bool:
        return self is not ChargeKind.APPOINTMENT


class ChargeStatus(enum.StrEnum):
    """planned: booked; billable: owed and not yet invoiced; invoiced: on an invoice; aborted: cancelled
    in time; waived: a fee staff forgave; prepaid: drawn from a package."""

    PLANNED = "planned"
    BILLABLE = "billable"
    INVOICED = "invoiced"
    ABORTED = "aborted"
    WAIVED = "waived"
    PREPAID = "prepaid"


_TRANSITIONS = {
    ChargeStatus.PLANNED: frozenset({ChargeStatus.BILLABLE, ChargeStatus.ABORTED, ChargeStatus.PREPAID}),
    ChargeStatus.BILLABLE: frozenset({ChargeStatus.INVOICED, ChargeStatus.WAIVED}),
    # Back to billable only when its draft invoice is discarded.
    ChargeStatus.INVOICED: frozenset({ChargeStatus.BILLABLE}),
    ChargeStatus.ABORTED: frozenset[ChargeStatus](),
    ChargeStatus.WAIVED: frozenset[ChargeStatus](),
    ChargeStatus.PREPAID: frozenset[ChargeStatus](),
}


@dataclass
class Charge:
    """What a patient owes for one appointment; ``amount`` is None while no price is on file."""

    id: uuid.UUID
    kind: ChargeKind
    appointment_id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    starts_at: datetime
    service_date: date
    amount: Money | None
    status: ChargeStatus
    # The highest scheduling ``sequence`` of the appointment applied so far (events may arrive out of order).
    appointment_sequence: int
    created_at: datetime
    updated_at: datetime
    late_cancellation: bool = False
    aborted_at: datetime | None = None
    # Basis points (1/100 of a percent); physiotherapy is tax-exempt, so 0 unless the clinic says otherwise.
    tax_rate_bp: int = 0
    invoice_id: uuid.UUID | None = None
    waived_reason: str | None = None
    waived_by: uuid.UUID | None = None
    waived_at: datetime | None = None
    package_id: uuid.UUID | None = None

    @classmethod
    def plan(
        cls,
        *,
        charge_id: uuid.UUID,
        appointment_id: uuid.UUID,
        clinic_id: uuid.UUID,
        patient_id: uuid.UUID,
        practitioner_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        starts_at: datetime,
        service_date: date,
        amount: Money | None,
        sequence: int,
        now: datetime,
    ) -> Charge:
        """A planned charge for a booked appointment, at the price found for its service date (if any)."""
        if starts_at.tzinfo is None:
            raise ValueError("starts_at must be timezone-aware")
        return cls(
            id=charge_id,
            kind=ChargeKind.APPOINTMENT,
            appointment_id=appointment_id,
            clinic_id=clinic_id,
            patient_id=patient_id,
            practitioner_id=practitioner_id,
            treatment_type_id=treatment_type_id,
            starts_at=starts_at,
            service_date=service_date,
            amount=amount,
            status=ChargeStatus.PLANNED,
            appointment_sequence=sequence,
            created_at=now,
            updated_at=now,
        )

    @property
    def needs_price(self) -> bool:
        """No price was on file when the charge was made; it cannot be invoiced until it has one."""
        return self.amount is None

    def assign_price(self, amount: Money, now: datetime) -> bool:
        """Price a charge that had none; an already-priced charge keeps its amount (returns False)."""
        if self.amount is not None:
            return False
        self.amount = amount
        self.updated_at = now
        return True

    def mark_billable(self, now: datetime) -> None:
        """The appointment took place."""
        self._move(ChargeStatus.BILLABLE, now)

    def abort(self, *, cancelled_at: datetime, late: bool, now: datetime) -> None:
        """The appointment was cancelled; ``late`` is kept for the late-cancellation fee."""
        self._move(ChargeStatus.ABORTED, now)
        self.aborted_at = cancelled_at
        self.late_cancellation = late

    def apply_cancellation(self, *, sequence: int, cancelled_at: datetime, late: bool, now: datetime) -> bool:
        """Abort for a cancellation newer than anything applied; False when it is a duplicate or stale."""
        if sequence <= self.appointment_sequence:
            return False
        self.appointment_sequence = sequence
        if self.status is ChargeStatus.ABORTED:
            self.updated_at = now
            return False
        self.abort(cancelled_at=cancelled_at, late=late, now=now)
        return True

    @classmethod
    def fee(
        cls,
        *,
        charge_id: uuid.UUID,
        kind: ChargeKind,
        visit: Charge,
        amount: Money | None,
        tax_rate_bp: int,
        sequence: int,
        now: datetime,
    ) -> Charge:
        """A late-cancellation or no-show fee for ``visit``'s appointment, owed at once."""
        if not kind.is_fee:
            raise ValueError("a fee charge needs a fee kind")
        return cls(
            id=charge_id,
            kind=kind,
            appointment_id=visit.appointment_id,
            clinic_id=visit.clinic_id,
            patient_id=visit.patient_id,
            practitioner_id=visit.practitioner_id,
            treatment_type_id=visit.treatment_type_id,
            starts_at=visit.starts_at,
            service_date=visit.service_date,
            amount=amount,
            status=ChargeStatus.BILLABLE,
            appointment_sequence=sequence,
            created_at=now,
            updated_at=now,
            tax_rate_bp=tax_rate_bp,
        )

    def apply_completion(self, *, sequence: int, now: datetime, package: Package | None = None) -> bool:
        """The appointment took place: billable, or drawn from ``package`` when one has a session left.

        False when already applied or the charge is no longer planned.
        """
        self.appointment_sequence = max(self.appointment_sequence, sequence)
        if self.status is not ChargeStatus.PLANNED:
            return False
        if package is not None and package.draw(now):
            self._move(ChargeStatus.PREPAID, now)
            self.package_id = package.id
        else:
            self._move(ChargeStatus.BILLABLE, now)
        return True

    def apply_reschedule(
        self,
        *,
        sequence: int,
        starts_at: datetime,
        service_date: date,
        practitioner_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        amount: Money | None,
        now: datetime,
    ) -> bool:
        """Follow the appointment to its new time, re-priced for the new date; only while still planned."""
        if sequence <= self.appointment_sequence:
            return False
        self.appointment_sequence = sequence
        if self.status is not ChargeStatus.PLANNED:
            return False
        self.follow(
            starts_at=starts_at,
            service_date=service_date,
            practitioner_id=practitioner_id,
            treatment_type_id=treatment_type_id,
            amount=amount,
            now=now,
        )
        return True

    def follow(
        self,
        *,
        starts_at: datetime,
        service_date: date,
        practitioner_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        amount: Money | None,
        now: datetime,
    ) -> None:
        """Take the appointment's time, practitioner and treatment (re-priced) while still planned."""
        if self.status is not ChargeStatus.PLANNED:
            return
        self.starts_at = starts_at
        self.service_date = service_date
        self.practitioner_id = practitioner_id
        self.treatment_type_id = treatment_type_id
        self.amount = amount
        self.updated_at = now

    def waive(self, *, reason: str, by: uuid.UUID, now: datetime) -> None:
        """Staff forgive a fee before it is invoiced (afterwards a credit note is the way)."""
        if not self.kind.is_fee:
            raise RuleViolation("only late-cancellation and no-show fees can be waived", field="kind")
        if not reason.strip():
            raise RuleViolation("a waiver needs a reason", field="reason")
        self._move(ChargeStatus.WAIVED, now)
        self.waived_reason = reason
        self.waived_by = by
        self.waived_at = now

    def put_on_invoice(self, invoice_id: uuid.UUID, now: datetime) -> None:
        if self.amount is None:
            raise RuleViolation("a charge without a price cannot be invoiced", field="charge_id")
        self._move(ChargeStatus.INVOICED, now)
        self.invoice_id = invoice_id

    def release_from_invoice(self, invoice_id: uuid.UUID, now: datetime) -> None:
        """Its draft invoice was discarded: billable again, to be gathered into another draft."""
        if self.invoice_id != invoice_id:
            raise InvalidTransition("the charge is on another invoice", field="invoice_id")
        self._move(ChargeStatus.BILLABLE, now)
        self.invoice_id = None

    def _move(self, to: ChargeStatus, now: datetime) -> None:
        if to not in _TRANSITIONS[self.status]:
            raise InvalidTransition(f"a charge that is {self.status} cannot become {to}", field="status")
        self.status = to
        self.updated_at = now
