"""Billing staff's reports: aging of outstanding balances, daily payments by method, revenue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from billing.domain import reports
from billing.domain.model import Clinic, Practitioner, TreatmentType, local_date, zone_of
from billing.service_layer.tenancy import ensure_acts_in
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal


@dataclass(frozen=True)
class Period:
    clinic_id: uuid.UUID
    first_day: date
    last_day: date


def outstanding(
    uow: BillingUnitOfWork, actor: Principal, clinic_id: uuid.UUID, as_of: date | None
) -> list[reports.AgingRow]:
    """Unpaid balances of issued invoices per patient and payer, aged from the invoice date."""
    ensure_acts_in(actor, clinic_id, field="clinic_id")
    zone = zone_of(uow.repo.get(Clinic, clinic_id))
    today = as_of or local_date(uow.clock.now(), zone)
    balances = [
        reports.OpenBalance(
            invoice.patient_id, str(invoice.payer_kind), local_date(issued_at, zone), invoice.balance.cents
        )
        for invoice, issued_at in uow.repo.open_balances(clinic_id)
        if issued_at is not None
    ]
    return reports.aging(balances, today)


def daily_payments(uow: BillingUnitOfWork, actor: Principal, period: Period) -> list[reports.DailyPayments]:
    """Money received (and refunded) per day of the clinic's calendar and method."""
    ensure_acts_in(actor, period.clinic_id, field="clinic_id")
    zone = zone_of(uow.repo.get(Clinic, period.clinic_id))
    start = datetime.combine(period.first_day, time(), zone)
    end = datetime.combine(period.last_day + timedelta(days=1), time(), zone)
    facts = [
        reports.PaymentFact(
            local_date(payment.received_at, zone),
            str(payment.method),
            payment.amount.cents,
            payment.refund_of is not None,
        )
        for payment in uow.repo.payments_between(period.clinic_id, start, end)
    ]
    return reports.daily_payments(facts)


@dataclass(frozen=True)
class NamedRevenue:
    row: reports.RevenueRow
    practitioner_name: str
    treatment_name: str


def revenue(uow: BillingUnitOfWork, actor: Principal, period: Period) -> list[NamedRevenue]:
    """Revenue (invoiced less credited, before tax) per practitioner and treatment, by date of service."""
    ensure_acts_in(actor, period.clinic_id, field="clinic_id")
    invoices, credit_notes = uow.repo.revenue_ledger(period.clinic_id, period.first_day, period.last_day)
    facts = reports.revenue_facts(invoices, credit_notes, period.first_day, period.last_day)
    named = []
    for row in reports.revenue(facts):
        practitioner = uow.repo.get(Practitioner, row.practitioner_id) if row.practitioner_id else None
        treatment = uow.repo.get(TreatmentType, row.treatment_type_id) if row.treatment_type_id else None
        named.append(
            NamedRevenue(
                row,
                practitioner.display_name if practitioner else "",
                treatment.name if treatment else "Fees and other items",
            )
        )
    return named
