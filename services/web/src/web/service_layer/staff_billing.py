"""The billing clerk's pages: what they ask of billing (and scheduling, for names), in the clerk's name.

Billing's public API does the work: ``GET /billing-queue`` is the queue (a page of patients at a time),
``POST /invoices`` and ``POST /invoices/split`` draft from a patient's billable charges,
``POST /invoices/{id}/issue`` numbers them, ``POST /invoices/{id}/credit-notes`` and ``POST /payments`` move
money (each with an ``Idempotency-Key``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from web.domain.billing_desk import OpenInvoice, PatientCharges
from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.listing import PAGE_SIZE, every_page
from web.service_layer.ports import ApiError, Apis
from web.service_layer.staff_day import patient_names

QUEUE_PAGE_SIZE = 25  # patients per page of the queue
BILLING_ROLES = frozenset({"billing", "admin"})  # billing's BILLING_STAFF
PAYERS = ("worksafebc", "icbc", "extended_health")
FALLBACK_ZONE = "America/Vancouver"


@dataclass(frozen=True)
class Coverage:
    id: str
    payer_kind: str
    claim_number: str | None


@dataclass
class QueueRow:
    group: PatientCharges
    name: str
    coverages: list[Coverage]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    clinic_name: str
    number: int  # 1-based
    total: int  # patients in the queue (as filtered)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // QUEUE_PAGE_SIZE))

    @property
    def first_shown(self) -> int:
        return (self.number - 1) * QUEUE_PAGE_SIZE + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.rows) - 1 if self.rows else 0


def queue_page(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    *,
    number: int = 1,
    first_day: date | None = None,
    last_day: date | None = None,
    payer: str = "",
) -> QueuePage:
    """A page of the clinic's patients with uninvoiced charges (every charge a draft would take), the
    longest waiting first, with each patient's coverages here (for a split)."""
    token = credentials.access_token
    query: dict[str, Any] = {"clinic_id": clinic_id, "page": number, "page_size": QUEUE_PAGE_SIZE}
    days = {"first_day": first_day, "last_day": last_day}
    query |= {key: day.isoformat() for key, day in days.items() if day} | ({"payer": payer} if payer else {})
    response, clinic = together(
        lambda: apis.billing.request("GET", "/billing-queue", token=token, params=query),
        lambda: apis.scheduling.get(f"/clinics/{clinic_id}", token=token),
    )
    entries = response.json()
    total = int(json.loads(response.headers.get("X-Pagination") or "{}").get("total") or len(entries))
    names = patient_names(apis, credentials, clinic_id, [str(e["patient_id"]) for e in entries])
    rows = [
        QueueRow(
            PatientCharges.of(entry),
            names.get(str(entry["patient_id"]), ""),
            [Coverage(str(c["id"]), str(c["payer_kind"]), c.get("claim_number")) for c in entry["coverages"]],
        )
        for entry in entries
    ]
    return QueuePage(rows, str(clinic.get("name", "")), number, total)


def draft(
    apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str, coverage_id: str | None = None
) -> list[str]:
    """Draft the patient's invoice (or the payer's and the patient's parts): the drafts' ids."""
    body = {"clinic_id": clinic_id, "patient_id": patient_id}
    if coverage_id:
        made = apis.billing.post(
            "/invoices/split", json=body | {"coverage_id": coverage_id}, token=credentials.access_token
        )
        return [str(invoice["id"]) for invoice in made]
    made = apis.billing.post("/invoices", json=body, token=credentials.access_token)
    return [str(made["id"])]


# --- one invoice -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    charge_id: str | None
    description: str
    service_date: date
    amount_cents: int
    tax_cents: int


@dataclass(frozen=True)
class Invoice:
    id: str
    number: str | None
    status: str
    clinic_id: str
    patient_id: str
    payer_kind: str
    currency: str
    lines: list[Line]
    subtotal_cents: int
    tax_cents: int
    credited_cents: int
    total_cents: int
    paid_cents: int
    balance_cents: int
    issued_at: str | None
    due_date: date | None
    created_at: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Invoice:
        return cls(
            id=str(body["id"]),
            number=body.get("number"),
            status=str(body["status"]),
            clinic_id=str(body["clinic_id"]),
            patient_id=str(body["patient_id"]),
            payer_kind=str(body["payer_kind"]),
            currency=str(body["currency"]),
            lines=[
                Line(
                    charge_id=line.get("charge_id"),
                    description=str(line.get("description", "")),
                    service_date=date.fromisoformat(str(line["service_date"])),
                    amount_cents=int(line["amount_cents"]),
                    tax_cents=int(line["tax_cents"]),
                )
                for line in body.get("lines") or []
            ],
            subtotal_cents=int(body["subtotal_cents"]),
            tax_cents=int(body["tax_cents"]),
            credited_cents=int(body["credited_cents"]),
            total_cents=int(body["total_cents"]),
            paid_cents=int(body["paid_cents"]),
            balance_cents=int(body["balance_cents"]),
            issued_at=body.get("issued_at"),
            due_date=date.fromisoformat(body["due_date"]) if body.get("due_date") else None,
            created_at=str(body.get("created_at", "")),
        )

    @property
    def label(self) -> str:
        return self.number or self.id[:8]


@dataclass(frozen=True)
class SharedLine:
    """A line of the invoice beside what the other payer of the same charge is billed (a split)."""

    line: Line
    insurer_cents: int
    patient_cents: int


@dataclass(frozen=True)
class CreditNote:
    id: str
    number: str
    amount_cents: int
    currency: str
    reason: str
    voids_invoice: bool
    issued_at: str


@dataclass(frozen=True)
class AuditRow:
    occurred_at: str
    action: str


@dataclass
class InvoicePage:
    invoice: Invoice
    patient_name: str
    clinic_name: str
    timezone: str
    partners: list[Invoice] = field(default_factory=list)  # the other part(s) of a split
    shared: list[SharedLine] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)

    @property
    def drafts(self) -> list[Invoice]:
        return [i for i in [self.invoice, *self.partners] if i.status == "draft"]


def _shares(invoice: Invoice, partners: Iterable[Invoice]) -> list[SharedLine]:
    """Per line, the insurer's and the patient's share of its charge, from both parts of a split."""
    others = {line.charge_id: (other, line) for other in partners for line in other.lines if line.charge_id}
    shared = []
    for line in invoice.lines:
        other = others.get(line.charge_id) if line.charge_id else None
        mine = line.amount_cents + line.tax_cents
        theirs = other[1].amount_cents + other[1].tax_cents if other else 0
        if invoice.payer_kind == "patient":
            shared.append(SharedLine(line, insurer_cents=theirs, patient_cents=mine))
        else:
            shared.append(SharedLine(line, insurer_cents=mine, patient_cents=theirs))
    return shared


def invoice_page(apis: Apis, credentials: Credentials, invoice_id: str) -> InvoicePage:
    """The invoice with its lines, the other part of a split, its credit notes and its audit trail."""
    token = credentials.access_token
    invoice = Invoice.of(apis.billing.get(f"/invoices/{invoice_id}", token=token))
    same_patient, notes, audit, clinic = together(
        lambda: every_page(
            apis.billing,
            "/invoices",
            token,
            {"clinic_id": invoice.clinic_id, "patient_id": invoice.patient_id},
        ),
        lambda: apis.billing.get(f"/invoices/{invoice_id}/credit-notes", token=token),
        lambda: apis.billing.get(
            "/audit", token=token, params={"entity_id": invoice_id, "page": 1, "page_size": PAGE_SIZE}
        ),
        lambda: apis.scheduling.get(f"/clinics/{invoice.clinic_id}", token=token),
    )
    charges = {line.charge_id for line in invoice.lines if line.charge_id}
    partners = [
        Invoice.of(body)
        for body in same_patient
        if str(body["id"]) != invoice.id
        and body.get("status") != "cancelled"
        and charges & {line.get("charge_id") for line in body.get("lines") or []}
    ]
    names = patient_names(apis, credentials, invoice.clinic_id, [invoice.patient_id])
    return InvoicePage(
        invoice=invoice,
        patient_name=names.get(invoice.patient_id, ""),
        clinic_name=str(clinic.get("name", "")),
        timezone=str(clinic.get("timezone") or FALLBACK_ZONE),
        partners=partners,
        shared=_shares(invoice, partners) if partners else [],
        credit_notes=[
            CreditNote(
                id=str(n["id"]),
                number=str(n["number"]),
                amount_cents=int(n["amount_cents"]),
                currency=str(n["currency"]),
                reason=str(n.get("reason", "")),
                voids_invoice=bool(n.get("voids_invoice")),
                issued_at=str(n["issued_at"]),
            )
            for n in notes
        ],
        audit=sorted(
            (AuditRow(str(a["occurred_at"]), str(a["action"])) for a in audit),
            key=lambda row: row.occurred_at,
        ),
    )


def issue(apis: Apis, credentials: Credentials, invoice_ids: Iterable[str]) -> list[str]:
    """Issue each draft; one issued meanwhile (409) counts as done. The numbers given, in order."""
    numbers = []
    for invoice_id in invoice_ids:
        try:
            issued = apis.billing.post(f"/invoices/{invoice_id}/issue", token=credentials.access_token)
        except ApiError as error:
            if error.status != 409:
                raise
            issued = apis.billing.get(f"/invoices/{invoice_id}", token=credentials.access_token)
        numbers.append(str(issued.get("number") or ""))
    return numbers


def credit(
    apis: Apis,
    credentials: Credentials,
    invoice_id: str,
    *,
    reason: str,
    amount_cents: int | None,
    idempotency_key: str,
) -> dict[str, Any]:
    """A credit note: the whole unpaid total (a void) when ``amount_cents`` is None, else that much."""
    body: dict[str, Any] = {"reason": reason}
    body |= {"void": True} if amount_cents is None else {"amount_cents": amount_cents}
    made: dict[str, Any] = apis.billing.post(
        f"/invoices/{invoice_id}/credit-notes",
        json=body,
        token=credentials.access_token,
        headers={"Idempotency-Key": idempotency_key},
    )
    return made


# --- payments --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentSetup:
    patient_name: str
    currency: str
    open_invoices: list[OpenInvoice]
    credit_cents: int


def payment_setup(apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str) -> PaymentSetup:
    """The patient's issued invoices at the clinic still owing, oldest first, and their credit there."""
    token = credentials.access_token
    listed, credit_body = together(
        lambda: every_page(
            apis.billing, "/invoices", token, {"clinic_id": clinic_id, "patient_id": patient_id}
        ),
        lambda: apis.billing.get(
            f"/patients/{patient_id}/credit", token=token, params={"clinic_id": clinic_id}
        ),
    )
    open_invoices = sorted(
        (
            OpenInvoice(
                id=str(i["id"]),
                number=str(i.get("number") or ""),
                issued_at=str(i.get("issued_at") or ""),
                payer_kind=str(i["payer_kind"]),
                balance_cents=int(i["balance_cents"]),
                currency=str(i["currency"]),
            )
            for i in listed
            if i.get("status") == "issued" and int(i["balance_cents"]) > 0
        ),
        key=lambda i: (i.issued_at, i.number),
    )
    currency = open_invoices[0].currency if open_invoices else str(credit_body.get("currency") or "CAD")
    names = patient_names(apis, credentials, clinic_id, [patient_id])
    return PaymentSetup(
        patient_name=names.get(patient_id, ""),
        currency=currency,
        open_invoices=open_invoices,
        credit_cents=int(credit_body.get("credit_cents") or 0),
    )


@dataclass(frozen=True)
class NewPayment:
    clinic_id: str
    patient_id: str
    method: str
    amount_cents: int
    currency: str
    allocations: dict[str, int]
    idempotency_key: str


def record_payment(apis: Apis, credentials: Credentials, payment: NewPayment) -> dict[str, Any]:
    recorded: dict[str, Any] = apis.billing.post(
        "/payments",
        json={
            "clinic_id": payment.clinic_id,
            "patient_id": payment.patient_id,
            "method": payment.method,
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
            "allocations": [
                {"invoice_id": invoice_id, "amount_cents": cents}
                for invoice_id, cents in payment.allocations.items()
                if cents > 0
            ],
        },
        token=credentials.access_token,
        headers={"Idempotency-Key": payment.idempotency_key},
    )
    return recorded
