"""The PDF renderer without an embedded font: Latin-1 text still prints, other letters degrade to '?'."""

from __future__ import annotations

import io
from datetime import date

from pypdf import PdfReader

from billing.adapters.pdf import FpdfRenderer
from billing.domain.money import Money
from billing.service_layer.documents import DocumentLine, DocumentPayment, InvoiceDocument


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
    )


def test_without_a_font_file_latin1_text_prints_in_helvetica() -> None:
    pdf = FpdfRenderer(None).render(document())

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
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
    ):
        assert expected in text, expected
