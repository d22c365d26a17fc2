"""Invoices and receipts: what the patient's invoices page asks of billing (and scheduling, for clinics).

Everything is read in the patient's name, so billing shows only their own issued invoices, their credit
notes and their credit. PDFs are fetched from billing and handed on unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from web.domain.invoices import (
    Credit,
    InvoiceState,
    credits_to_show,
    document_filename,
    has_receipt,
    local_day,
    owes,
    state_of,
    totals_by_currency,
)
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis

PAGE_SIZE = 100  # billing's largest page
MAX_PAGES = 20  # 2,000 invoices: far beyond any patient; a bound, not a limit anyone meets
FALLBACK_ZONE = "America/Vancouver"  # only if a clinic could not be read (the clinics are in BC)


@dataclass(frozen=True)
class CreditNoteRow:
    number: str
    issued_on: date
    cents: int
    currency: str
    voids_invoice: bool


@dataclass(frozen=True)
class InvoiceRow:
    id: str
    number: str
    issued_at: str
    issued_on: date
    clinic_name: str
    state: InvoiceState
    payer_kind: str
    currency: str
    total_cents: int
    paid_cents: int
    credited_cents: int
    balance_cents: int
    credit_notes: list[CreditNoteRow] = field(default_factory=list)

    @property
    def has_receipt(self) -> bool:
        return has_receipt(self.paid_cents)

    @property
    def to_pay(self) -> bool:
        return self.payer_kind == "patient" and owes(self.state, self.balance_cents)


@dataclass(frozen=True)
class CreditLine:
    cents: int
    currency: str
    clinic_name: str


@dataclass(frozen=True)
class InvoicesPage:
    invoices: list[InvoiceRow]
    credits: list[CreditLine]
    to_pay: list[tuple[int, str]]  # what the patient still owes, per currency
    several_clinics: bool


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes


def _pages(apis: Apis, path: str, token: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for page in range(1, MAX_PAGES + 1):
        items = apis.billing.get(path, token=token, params=params | {"page": page, "page_size": PAGE_SIZE})
        yield from items
        if len(items) < PAGE_SIZE:
            return


def invoices_page(apis: Apis, credentials: Credentials) -> InvoicesPage:
    """The patient's issued invoices, newest first, with their credit notes and the patient's credit."""
    token, patient_id = credentials.access_token, credentials.patient_id
    assert patient_id is not None
    listed = list(_pages(apis, "/invoices", token, {"patient_id": patient_id}))
    payments = list(_pages(apis, "/payments", token, {"patient_id": patient_id}))
    clinics = _clinics(apis, token, {i["clinic_id"] for i in listed} | {p["clinic_id"] for p in payments})
    rows = []
    for invoice in listed:
        state = state_of(invoice["status"], invoice["paid_cents"], invoice["balance_cents"])
        if state is None or not invoice.get("number") or not invoice.get("issued_at"):
            continue  # a draft: billing does not show these to patients, and neither do we
        name, zone = clinics.get(invoice["clinic_id"], ("", FALLBACK_ZONE))
        notes = (
            apis.billing.get(f"/invoices/{invoice['id']}/credit-notes", token=token)
            if invoice["credited_cents"] > 0
            else []
        )
        rows.append(
            InvoiceRow(
                id=invoice["id"],
                number=invoice["number"],
                issued_at=invoice["issued_at"],
                issued_on=local_day(invoice["issued_at"], zone),
                clinic_name=name,
                state=state,
                payer_kind=invoice["payer_kind"],
                currency=invoice["currency"],
                total_cents=invoice["total_cents"],
                paid_cents=invoice["paid_cents"],
                credited_cents=invoice["credited_cents"],
                balance_cents=invoice["balance_cents"],
                credit_notes=[
                    CreditNoteRow(
                        number=note["number"],
                        issued_on=local_day(note["issued_at"], zone),
                        cents=note["amount_cents"],
                        currency=note["currency"],
                        voids_invoice=note["voids_invoice"],
                    )
                    for note in notes
                ],
            )
        )
    rows.sort(key=lambda row: (row.issued_at, row.number), reverse=True)
    credits = [
        Credit(clinic_id, body["credit_cents"], body["currency"])
        for clinic_id in sorted({p["clinic_id"] for p in payments})
        for body in [
            apis.billing.get(f"/patients/{patient_id}/credit", token=token, params={"clinic_id": clinic_id})
        ]
    ]
    return InvoicesPage(
        invoices=rows,
        credits=[
            CreditLine(c.cents, c.currency, clinics.get(c.clinic_id, ("", ""))[0])
            for c in credits_to_show(credits)
        ],
        to_pay=totals_by_currency((row.balance_cents, row.currency) for row in rows if row.to_pay),
        several_clinics=len(clinics) > 1,
    )


def _clinics(apis: Apis, token: str, clinic_ids: set[str]) -> dict[str, tuple[str, str]]:
    """Each clinic's name and time zone (invoice dates are the clinic's dates)."""
    found = {}
    for clinic_id in sorted(clinic_ids):
        try:
            clinic = apis.scheduling.get(f"/clinics/{clinic_id}", token=token)
        except ApiError as error:
            if error.status != 404:
                raise
            continue  # the invoice still shows, dated in the clinics' usual zone
        found[clinic_id] = (clinic["name"], clinic["timezone"])
    return found


def invoice_document(apis: Apis, credentials: Credentials, invoice_id: str, *, receipt: bool) -> Document:
    """The invoice's PDF (or its receipt) as billing prints it, with a file name for the download.

    Raises ApiError 404 for an invoice that is not the patient's (or not issued), 422 for a receipt of an
    invoice nothing was paid on.
    """
    token = credentials.access_token
    invoice = apis.billing.get(f"/invoices/{invoice_id}", token=token)
    path = f"/invoices/{invoice_id}/{'receipt' if receipt else 'pdf'}"
    response = apis.billing.request("GET", path, token=token, headers={"Accept": "application/pdf"})
    kind = "receipt" if receipt else "invoice"
    return Document(document_filename(kind, invoice.get("number"), invoice_id), response.content)
