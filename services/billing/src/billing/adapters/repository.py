"""Repositories: how the service layer finds and stores domain objects in one session."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    CursorResult,
    Select,
    delete,
    exists,
    func,
    insert,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from billing.adapters.charge_statements import charge_columns, insert_charge_unless_taken
from billing.adapters.charge_terms import ChargeTermsQueries
from billing.adapters.orm import (
    allocations,
    audit_entries,
    charges,
    coverages,
    credit_applications,
    credit_notes,
    idempotency_keys,
    invoice_lines,
    invoices,
    number_counters,
    packages,
    payments,
    price_list_entries,
)
from billing.adapters.queue_queries import QueueQueries
from billing.domain.audit import AuditEntry
from billing.domain.coverages import Coverage
from billing.domain.credit_notes import CreditNote
from billing.domain.invoicing import Invoice, InvoiceStatus
from billing.domain.model import Charge, ChargeKind, ChargeStatus, PriceList, PriceListEntry
from billing.domain.money import Money
from billing.domain.packages import Package
from billing.domain.payments import Allocation, CreditApplication, Payment
from billing.service_layer.ports import StoredResponse
from clinic_shared.db import counted_page

T = TypeVar("T")


class SqlAlchemyRepository(QueueQueries, ChargeTermsQueries):
    """Generic get/add plus the queries billing needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entity: object) -> None:
        self.session.add(entity)

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        return self.session.get(cls, entity_id)

    def delete(self, entity: object) -> None:
        self.session.delete(entity)

    def get_for_update(self, cls: type[T], entity_id: uuid.UUID) -> T | None:
        """Load and row-lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes writers)."""
        return self.session.get(cls, entity_id, with_for_update=True, populate_existing=True)

    # --- numbering ---

    def next_number(self, clinic_id: uuid.UUID, series: str, year: int) -> int:
        """Take the next value of a gapless counter, locking its row until the transaction ends.

        A rollback undoes the increment with everything else, so numbers never skip.
        """
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        self.session.execute(
            dialect.insert(number_counters)
            .values(clinic_id=clinic_id, series=series, year=year, last_value=0)
            .on_conflict_do_nothing()
        )
        key = (
            (number_counters.c.clinic_id == clinic_id)
            & (number_counters.c.series == series)
            & (number_counters.c.year == year)
        )
        current = self.session.execute(
            select(number_counters.c.last_value).where(key).with_for_update()
        ).scalar_one()
        self.session.execute(update(number_counters).where(key).values(last_value=current + 1))
        return current + 1

    # --- idempotency ---

    def claim_idempotency_key(self, account_id: uuid.UUID, key: str, fingerprint: str, now: Any) -> None:
        """Insert the key's row now; a concurrent holder of the same key makes this wait, then fail."""
        self.session.execute(
            insert(idempotency_keys).values(
                account_id=account_id,
                key=key,
                fingerprint=fingerprint,
                status_code=0,
                body={},
                created_at=now,
            )
        )

    def store_response(self, account_id: uuid.UUID, key: str, status_code: int, body: Any) -> None:
        self.session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key)
            .values(status_code=status_code, body=body)
        )

    def stored_response(self, account_id: uuid.UUID, key: str) -> StoredResponse | None:
        row = self.session.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key
            )
        ).first()
        if row is None:
            return None
        return StoredResponse(row.fingerprint, row.status_code, row.body)

    def purge_idempotency_keys(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest keys created before ``created_before``; returns how many."""
        k = idempotency_keys.c
        oldest = select(k.account_id, k.key).where(k.created_at < created_before).order_by(k.created_at)
        result = self.session.execute(
            delete(idempotency_keys).where(tuple_(k.account_id, k.key).in_(oldest.limit(limit)))
        )
        assert isinstance(result, CursorResult)
        return result.rowcount

    # --- invoices and payments ---

    def invoiceable_charges(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Sequence[Charge]:
        query = (
            select(Charge)
            .where(
                charges.c.clinic_id == clinic_id,
                charges.c.patient_id == patient_id,
                charges.c.status == ChargeStatus.BILLABLE,
                charges.c.amount_cents.is_not(None),
            )
            .with_for_update()
        )
        return self.session.scalars(query).all()

    def list_invoices(
        self,
        *,
        offset: int,
        limit: int,
        clinic_id: uuid.UUID | None = None,
        patient_id: uuid.UUID | None = None,
        status: InvoiceStatus | None = None,
        issued_only: bool = False,
    ) -> tuple[Sequence[Invoice], int]:
        c = invoices.c
        query = select(Invoice)
        for column, value in ((c.clinic_id, clinic_id), (c.patient_id, patient_id), (c.status, status)):
            if value is not None:
                query = query.where(column == value)
        if issued_only:
            query = query.where(c.status != InvoiceStatus.DRAFT)
        return self._page(query, [c.created_at, c.id], offset, limit)

    def credit_notes_for(self, invoice_id: uuid.UUID) -> Sequence[CreditNote]:
        query = (
            select(CreditNote)
            .where(credit_notes.c.invoice_id == invoice_id)
            .order_by(credit_notes.c.issued_at, credit_notes.c.id)
        )
        return self.session.scalars(query).all()

    def patient_credit_notes(
        self, patient_id: uuid.UUID, *, clinic_id: uuid.UUID | None = None
    ) -> Sequence[CreditNote]:
        """The patient's credit notes (at one clinic, when given), oldest first."""
        note = credit_notes.c
        query = select(CreditNote).where(note.patient_id == patient_id)
        if clinic_id is not None:
            query = query.where(note.clinic_id == clinic_id)
        return self.session.scalars(query.order_by(note.issued_at, note.id)).all()

    def patient_credit_applications(
        self, patient_id: uuid.UUID, *, clinic_id: uuid.UUID | None = None
    ) -> Sequence[CreditApplication]:
        """The patient's credit applied to invoices (at one clinic, when given), oldest first."""
        app = credit_applications.c
        query = select(CreditApplication).where(app.patient_id == patient_id)
        if clinic_id is not None:
            query = query.where(app.clinic_id == clinic_id)
        return self.session.scalars(query.order_by(app.applied_at, app.id)).all()

    def list_payments(
        self,
        *,
        offset: int,
        limit: int,
        patient_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
    ) -> tuple[Sequence[Payment], int]:
        query = select(Payment)
        if patient_id is not None:
            query = query.where(payments.c.patient_id == patient_id)
        if clinic_id is not None:
            query = query.where(payments.c.clinic_id == clinic_id)
        return self._page(query, [payments.c.received_at, payments.c.id], offset, limit)

    def coverage_used_cents(self, coverage_id: uuid.UUID, year: int) -> int:
        """What a coverage was billed for services in ``year`` (voided invoices excluded)."""
        query = (
            select(func.coalesce(func.sum(invoice_lines.c.amount_cents), 0))
            .select_from(invoice_lines.join(invoices, invoice_lines.c.invoice_id == invoices.c.id))
            .where(
                invoices.c.coverage_id == coverage_id,
                invoices.c.status != InvoiceStatus.CANCELLED,
                invoice_lines.c.service_date.between(date(year, 1, 1), date(year, 12, 31)),
            )
        )
        return int(self.session.scalar(query) or 0)

    def list_coverages(
        self, patient_id: uuid.UUID, *, offset: int, limit: int, clinic_id: uuid.UUID | None = None
    ) -> tuple[Sequence[Coverage], int]:
        query = select(Coverage).where(coverages.c.patient_id == patient_id)
        if clinic_id is not None:
            query = query.where(coverages.c.clinic_id == clinic_id)
        return self._page(query, [coverages.c.created_at, coverages.c.id], offset, limit)

    def payments_for_invoice(self, invoice_id: uuid.UUID) -> Sequence[tuple[Payment, Money]]:
        query = select(Allocation).where(allocations.c.invoice_id == invoice_id)
        found = []
        for allocation in self.session.scalars(query).all():
            payment = self.session.get(Payment, allocation.payment_id)
            if payment is not None:
                found.append((payment, allocation.amount))
        return found

    def open_balances(self, clinic_id: uuid.UUID) -> Sequence[tuple[Invoice, datetime]]:
        query = select(Invoice).where(
            invoices.c.clinic_id == clinic_id, invoices.c.status == InvoiceStatus.ISSUED
        )
        return [
            (invoice, invoice.issued_at)
            for invoice in self.session.scalars(query).all()
            if invoice.issued_at is not None
        ]

    def payments_between(self, clinic_id: uuid.UUID, start: datetime, end: datetime) -> Sequence[Payment]:
        query = select(Payment).where(
            payments.c.clinic_id == clinic_id, payments.c.received_at >= start, payments.c.received_at < end
        )
        return self.session.scalars(query).all()

    def revenue_ledger(
        self, clinic_id: uuid.UUID, first_day: date, last_day: date
    ) -> tuple[Sequence[Invoice], Sequence[CreditNote]]:
        """The clinic's issued invoices with a line served in the period, and their credit notes."""
        line, inv, note = invoice_lines.c, invoices.c, credit_notes.c
        served = (
            select(line.invoice_id)
            .select_from(invoice_lines.join(invoices, line.invoice_id == inv.id))
            .where(
                inv.clinic_id == clinic_id,
                inv.status != InvoiceStatus.DRAFT,
                line.service_date.between(first_day, last_day),
            )
            .distinct()
        )
        found = self.session.scalars(select(Invoice).where(inv.id.in_(served))).all()
        notes = self.session.scalars(select(CreditNote).where(note.invoice_id.in_(served))).all()
        return found, notes

    def package_for(
        self,
        clinic_id: uuid.UUID,
        patient_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        plan_id: uuid.UUID | None,
        day: date,
    ) -> Package | None:
        """The oldest package with a session left that covers a visit of this treatment (and plan) on
        ``day``, row-locked."""
        p = packages.c
        query = (
            select(Package)
            .where(
                p.clinic_id == clinic_id,
                p.patient_id == patient_id,
                p.treatment_type_id == treatment_type_id,
                p.sessions_used < p.sessions_total,
            )
            .order_by(p.sold_at, p.id)
            .with_for_update()
        )
        for package in self.session.scalars(query).all():
            if package.covers(treatment_type_id, plan_id, day):
                return package
        return None

    def list_packages(
        self, patient_id: uuid.UUID, *, offset: int, limit: int, clinic_id: uuid.UUID | None = None
    ) -> tuple[Sequence[Package], int]:
        query = select(Package).where(packages.c.patient_id == patient_id)
        if clinic_id is not None:
            query = query.where(packages.c.clinic_id == clinic_id)
        return self._page(query, [packages.c.sold_at, packages.c.id], offset, limit)

    def credit_sources(self, clinic_id: uuid.UUID, patient_id: uuid.UUID, currency: str) -> Sequence[Payment]:
        """The patient's payments with unallocated money at the clinic, oldest first, row-locked."""
        p = payments.c
        query = (
            select(Payment)
            .where(
                p.clinic_id == clinic_id,
                p.patient_id == patient_id,
                p.currency == currency,
                p.refund_of.is_(None),
                p.unallocated_cents > 0,
            )
            .order_by(p.received_at, p.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(query).all()

    def patient_credit_cents(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> int:
        query = select(func.coalesce(func.sum(payments.c.unallocated_cents), 0)).where(
            payments.c.clinic_id == clinic_id,
            payments.c.patient_id == patient_id,
            payments.c.refund_of.is_(None),
        )
        return int(self.session.scalar(query) or 0)

    def list_audit(
        self,
        *,
        offset: int,
        limit: int,
        entity_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
    ) -> tuple[Sequence[AuditEntry], int]:
        query = select(AuditEntry)
        if entity_id is not None:
            query = query.where(audit_entries.c.entity_id == entity_id)
        if clinic_id is not None:
            # Entries about the clinic itself (its policy, its tax registration) or about its records.
            owned = union_all(
                *(
                    select(table.c.id).where(table.c.clinic_id == clinic_id)
                    for table in (
                        charges,
                        invoices,
                        credit_notes,
                        payments,
                        credit_applications,
                        coverages,
                        packages,
                        price_list_entries,
                    )
                )
            )
            query = query.where(
                (audit_entries.c.entity_id == clinic_id) | audit_entries.c.entity_id.in_(owned)
            )
        return self._page(query, [audit_entries.c.occurred_at, audit_entries.c.id], offset, limit)

    def patient_known_at(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
        """Whether the patient has a charge or an invoice at the clinic (a care relationship there)."""
        charged = select(charges.c.id).where(
            charges.c.clinic_id == clinic_id, charges.c.patient_id == patient_id
        )
        invoiced = select(invoices.c.id).where(
            invoices.c.clinic_id == clinic_id, invoices.c.patient_id == patient_id
        )
        return bool(self.session.scalar(select(exists(charged) | exists(invoiced))))

    # --- price lists ---

    def price_list(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> PriceList:
        query = select(PriceListEntry).where(
            price_list_entries.c.clinic_id == clinic_id,
            price_list_entries.c.treatment_type_id == treatment_type_id,
        )
        return PriceList(clinic_id, treatment_type_id, list(self.session.scalars(query).all()))

    @contextlib.contextmanager
    def _audit_left_pending(self) -> Iterator[None]:
        """Flush before the block only if something other than audit entries is pending (a clinic's new
        zone, say). Audit entries never bear on what a charge reads or writes: left to the commit, a batch
        of events writes them in one statement instead of one per charge."""
        pending = (*self.session.new, *self.session.dirty)
        if any(not isinstance(entity, AuditEntry) for entity in pending):
            self.session.flush()
        with self.session.no_autoflush:
            yield

    def list_prices(
        self, clinic_id: uuid.UUID, *, offset: int, limit: int, treatment_type_id: uuid.UUID | None = None
    ) -> tuple[Sequence[PriceListEntry], int]:
        t = price_list_entries.c
        query = select(PriceListEntry).where(t.clinic_id == clinic_id)
        if treatment_type_id is not None:
            query = query.where(t.treatment_type_id == treatment_type_id)
        return self._page(query, [t.treatment_type_id, t.effective_from.desc(), t.id], offset, limit)

    # --- charges ---

    def charge_for(self, appointment_id: uuid.UUID, kind: ChargeKind) -> Charge | None:
        query = select(Charge).where(charges.c.appointment_id == appointment_id, charges.c.kind == kind)
        return self.session.scalars(query).first()

    def add_charge_unless_taken(self, charge: Charge) -> bool:
        # INSERT ... ON CONFLICT DO NOTHING: no savepoint, and a rival's insert in flight is waited for.
        values = {prop.columns[0].key: getattr(charge, prop.key) for prop in charge_columns()}
        stmt = insert_charge_unless_taken(self.session.get_bind().dialect.name)
        with self._audit_left_pending():
            if self.session.execute(stmt, values).first() is None:
                return False
        # The row is written: the session takes the charge as loaded from it (nothing left to flush).
        make_transient_to_detached(charge)
        self.session.add(charge)
        return True

    def lock_charges_of(self, appointment_id: uuid.UUID) -> Sequence[Charge]:
        # populate_existing: what the lock waited for (a rival's commit) replaces any copy already loaded.
        query = (
            select(Charge)
            .where(charges.c.appointment_id == appointment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(query).all()

    def charges_awaiting_price(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> Sequence[Charge]:
        query = select(Charge).where(
            charges.c.clinic_id == clinic_id,
            charges.c.treatment_type_id == treatment_type_id,
            charges.c.amount_cents.is_(None),
            charges.c.kind == ChargeKind.APPOINTMENT,
        )
        return self.session.scalars(query).all()

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
    ) -> tuple[Sequence[Charge], int]:
        c = charges.c
        query = select(Charge)
        for column, value in (
            (c.patient_id, patient_id),
            (c.appointment_id, appointment_id),
            (c.clinic_id, clinic_id),
            (c.status, status),
        ):
            if value is not None:
                query = query.where(column == value)
        if needs_price is not None:
            query = query.where(c.amount_cents.is_(None) if needs_price else c.amount_cents.is_not(None))
        return self._page(query, [c.starts_at, c.id], offset, limit)

    def _page(
        self, query: Select[Any], order_by: Sequence[Any], offset: int, limit: int
    ) -> tuple[Sequence[Any], int]:
        return counted_page(self.session, query, order_by, offset, limit)
