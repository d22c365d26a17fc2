"""The PDF renderer without an embedded font: Latin-1 text still prints, other letters degrade to '?'."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

from pypdf import PdfReader

from billing.adapters.pdf import FpdfRenderer
from billing.domain.money import Money
from billing.service_layer.documents import (
    CreditNoteDocument,
    DocumentCreditNote,
    DocumentLine,
    DocumentPayment,
    InvoiceDocument,
)


def cad(cents: int) -> Money:
    return Money(cents, "CAD")


def document() -> InvoiceDocument:
    return InvoiceDocument(
        title="Invoice",
        number="VAN-2026-000007",
        issued_on=date(2026, 3, 2),
        due_date=date(2026, 4, 1),
        status="issued",
        clinic_name="Clinique IMS de Montréal",
        clinic_address="1 rue Sainte-Catherine, Montréal QC",
        clinic_contact="+15145550100  info@example.com",
        patient_name="Zoë Łukasiewicz",
        bill_to="ICBC",
        lines=[DocumentLine(date(2026, 3, 2), "IMS 30 min", "Dr. Ida Needham", "PT-1001", cad(9000), cad(0))],
        subtotal=cad(9000),
        tax=cad(0),
        credited=cad(0),
        total=cad(9000),
        paid=cad(4000),
        balance=cad(5000),
        payments=[DocumentPayment(date(2026, 3, 3), "insurer", cad(4000))],
        claim_facts=["Claim number: CL-778", "Date of injury: 2026-02-01"],
        credit_notes=[DocumentCreditNote("VAN-CN-2026-000003", date(2026, 3, 4), cad(1000))],
        gst_hst_number="123456789RT0001",
    )


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_without_a_font_file_latin1_text_prints_in_helvetica() -> None:
    text = text_of(FpdfRenderer(None).render(document()))
    for expected in (
        "Clinique IMS de Montréal",
        "Invoice VAN-2026-000007",
        "Zoë ?ukasiewicz",
        "PT-1001",
        "Claim number: CL-778",
        "Bill to: ICBC",
        "90.00 CAD",
        "Balance",
        "50.00 CAD",
        "2026-03-03  insurer  40.00 CAD",
        "Credit notes",
        "VAN-CN-2026-000003  2026-03-04  -10.00 CAD",
        "GST/HST Reg. No. 123456789RT0001",
    ):
        assert expected in text, expected


def test_a_clinic_without_a_registration_prints_no_gst_hst_line() -> None:
    text = text_of(FpdfRenderer(None).render(replace(document(), gst_hst_number=None)))

    assert "GST/HST" not in text


def test_a_credit_note_prints_the_invoice_it_credits_its_lines_tax_and_total() -> None:
    note = CreditNoteDocument(
        number="VAN-CN-2026-000003",
        issued_on=date(2026, 3, 4),
        invoice_number="VAN-2026-000007",
        invoice_issued_on=date(2026, 3, 2),
        voids_invoice=True,
        reason="Facturé par erreur",
        clinic_name="Clinique IMS de Montréal",
        clinic_address="1 rue Sainte-Catherine, Montréal QC",
        clinic_contact="+15145550100  info@example.com",
        patient_name="Zoë Łukasiewicz",
        bill_to="Zoë Łukasiewicz",
        lines=[
            DocumentLine(date(2026, 3, 2), "IMS 30 min", "Dr. Ida Needham", "PT-1001", cad(2000), cad(100))
        ],
        subtotal=cad(2000),
        tax=cad(100),
        total=cad(2100),
        gst_hst_number="123456789RT0001",
    )

    text = text_of(FpdfRenderer(None).render_credit_note(note))

    for expected in (
        "Clinique IMS de Montréal",
        "Credit note VAN-CN-2026-000003",
        "Date: 2026-03-04",
        "Credits invoice VAN-2026-000007 of 2026-03-02",
        "Cancels that invoice",
        "Reason: Facturé par erreur",
        "Patient: Zoë ?ukasiewicz",
        "Dr. Ida Needham (Reg. PT-1001)",
        "20.00 CAD",
        "1.00 CAD",
        "Total credited",
        "21.00 CAD",
        "GST/HST Reg. No. 123456789RT0001",
    ):
        assert expected in text, expected
