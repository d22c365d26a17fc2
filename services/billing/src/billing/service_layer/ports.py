"""What the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from billing.domain.audit import AuditEntry
from billing.domain.coverages import Coverage
from billing.domain.credit_notes import CreditNote
from billing.domain.errors import BillingError, NotFound
from billing.domain.invoicing import Invoice, InvoiceStatus, PayerKind
from billing.domain.model import Charge, ChargeKind, ChargeStatus, PriceList, PriceListEntry
from billing.domain.money import Money
from billing.domain.packages import Package
from billing.domain.payments import CreditApplication, Payment

T = TypeVar("T")


@dataclass(frozen=True)
class StoredResponse:
    """The response first given to an Idempotency-Key, with the fingerprint of the request that made it."""

    fingerprint: str
    status_code: int
    body: Any


@dataclass(frozen=True)
class ChargeTerms:
    """What pricing an appointment's charge needs, read together: the clinic's time zone (None until its
    copy has arrived), the treatment's price list and the clinic's tax rate on treatments."""

    timezone: str | None
    prices: PriceList
    treatment_tax_rate_bp: int


@dataclass(frozen=True)
class DocumentLink:
    """An absolute URL that opens a document without signing in, until ``expires_at``."""

    url: str
    expires_at: datetime


class InvalidDocumentLink(NotFound):
    """The link was not made by us, was altered, or is malformed (told apart from none of these)."""


class DocumentLinkExpired(BillingError):
    """The link was genuine but its time is up."""


class DocumentLinksDisabled(BillingError):
    """This billing service has no public URL or no link secret, so it cannot make links."""


class DocumentKind(enum.StrEnum):
    """What a document link opens."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True)
class LinkedDocument:
    """The document a genuine, unexpired link opens."""

    kind: DocumentKind
    document_id: uuid.UUID


class DocumentLinks(Protocol):
    """Signed, expiring links to invoice and credit note PDFs, for patients who are not signed in."""

    def invoice_link(self, invoice_id: uuid.UUID, now: datetime) -> DocumentLink | None:
        """A fresh link to the invoice's PDF, or None when links are not configured."""
        ...

    def credit_note_link(self, credit_note_id: uuid.UUID, now: datetime) -> DocumentLink | None:
        """A fresh link to the credit note's PDF, or None when links are not configured."""
        ...

    def document(self, token: str, now: datetime) -> LinkedDocument:
        """The document a link's token opens; raises InvalidDocumentLink or DocumentLinkExpired."""
        ...


class BillingRepository(Protocol):
    """Finds and stores billing's domain objects inside one unit of work."""

    def add(self, entity: object) -> None: ...

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None: ...

    def get_for_update(self, cls: type[T], entity_id: uuid.UUID) -> T | None: ...

    def delete(self, entity: object) -> None: ...

    def next_number(self, clinic_id: uuid.UUID, series: str, year: int) -> int: ...

    def claim_idempotency_key(
        self, account_id: uuid.UUID, key: str, fingerprint: str, now: datetime
    ) -> None: ...

    def store_response(self, account_id: uuid.UUID, key: str, status_code: int, body: Any) -> None: ...

    def stored_response(self, account_id: uuid.UUID, key: str) -> StoredResponse | None: ...

    def purge_idempotency_keys(self, created_before: datetime, limit: int) -> int: ...

    def invoiceable_charges(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Sequence[Charge]: ...

    def list_invoices(
        self,
        *,
        offset: int,
        limit: int,
        clinic_id: uuid.UUID | None = None,
        patient_id: uuid.UUID | None = None,
        status: InvoiceStatus | None = None,
        issued_only: bool = False,
    ) -> tuple[Sequence[Invoice], int]: ...

    def credit_notes_for(self, invoice_id: uuid.UUID) -> Sequence[CreditNote]: ...

    def patient_credit_notes(
        self, patient_id: uuid.UUID, *, clinic_id: uuid.UUID | None = None
    ) -> Sequence[CreditNote]: ...

    def patient_credit_applications(
        self, patient_id: uuid.UUID, *, clinic_id: uuid.UUID | None = None
    ) -> Sequence[CreditApplication]: ...

    def list_payments(
        self,
        *,
        offset: int,
        limit: int,
        patient_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
    ) -> tuple[Sequence[Payment], int]: ...

    def coverage_used_cents(self, coverage_id: uuid.UUID, year: int) -> int: ...

    def list_coverages(
        self, patient_id: uuid.UUID, *, offset: int, limit: int, clinic_id: uuid.UUID | None = None
    ) -> tuple[Sequence[Coverage], int]: ...

    def payments_for_invoice(self, invoice_id: uuid.UUID) -> Sequence[tuple[Payment, Money]]: ...

    def open_balances(self, clinic_id: uuid.UUID) -> Sequence[tuple[Invoice, datetime]]: ...

    def payments_between(self, clinic_id: uuid.UUID, start: datetime, end: datetime) -> Sequence[Payment]: ...

    def revenue_ledger(
        self, clinic_id: uuid.UUID, first_day: date, last_day: date
    ) -> tuple[Sequence[Invoice], Sequence[CreditNote]]: ...

    def package_for(
        self,
        clinic_id: uuid.UUID,
        patient_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        plan_id: uuid.UUID | None,
        day: date,
    ) -> Package | None: ...

    def list_packages(
        self, patient_id: uuid.UUID, *, offset: int, limit: int, clinic_id: uuid.UUID | None = None
    ) -> tuple[Sequence[Package], int]: ...

    def credit_sources(
        self, clinic_id: uuid.UUID, patient_id: uuid.UUID, currency: str
    ) -> Sequence[Payment]: ...

    def patient_credit_cents(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> int: ...

    def list_audit(
        self,
        *,
        offset: int,
        limit: int,
        entity_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
    ) -> tuple[Sequence[AuditEntry], int]: ...

    def patient_known_at(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
        """Whether the patient has a charge or an invoice at the clinic (a care relationship there)."""
        ...

    def price_list(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> PriceList: ...

    def charge_terms(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> ChargeTerms: ...

    def list_prices(
        self, clinic_id: uuid.UUID, *, offset: int, limit: int, treatment_type_id: uuid.UUID | None = None
    ) -> tuple[Sequence[PriceListEntry], int]: ...

    def charge_for(self, appointment_id: uuid.UUID, kind: ChargeKind) -> Charge | None: ...

    def add_charge_unless_taken(self, charge: Charge) -> bool:
        """Add a new charge unless its appointment has one of its kind (a rival's, committed before this
        returns): True when added."""
        ...

    def lock_charges_of(self, appointment_id: uuid.UUID) -> Sequence[Charge]:
        """The appointment's charges (every kind), read afresh and row-locked until the transaction ends."""
        ...

    def charges_awaiting_price(
        self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID
    ) -> Sequence[Charge]: ...

    def list_charges(
        self,
        *,
        offset: int,
        limit: int,
        patient_id: uuid.UUID | None = None,
        appointment_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
        status: ChargeStatus | None = None,
        needs_price: bool | None = None,
    ) -> tuple[Sequence[Charge], int]: ...

    def queue_groups(
        self,
        *,
        clinic_id: uuid.UUID | None,
        first_day: date | None,
        last_day: date | None,
        payer: PayerKind | None,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[tuple[uuid.UUID, uuid.UUID]], int]: ...

    def queue_charges(self, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> Sequence[Charge]: ...

    def queue_coverages(self, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> Sequence[Coverage]: ...
