"""PDF invoices, official receipts and credit notes with fpdf2 (pure Python).

A TrueType font (DejaVu Sans by default) is embedded when its file exists, so any name prints; without
it the PDF falls back to the core Helvetica font, which covers Latin-1 (English and French) only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from billing.domain.money import Money
from billing.service_layer.documents import CreditNoteDocument, DocumentLine, InvoiceDocument

_WIDTHS = (24, 62, 62, 22, 22)
Text = Callable[[str], str]


class FpdfRenderer:
    """Lays out an invoice, a receipt or a credit note on one or more Letter pages."""

    def __init__(self, font_path: str | None) -> None:
        self._font = Path(font_path) if font_path else None

    def render(self, document: InvoiceDocument) -> bytes:
        pdf, family, text = self._start(f"{document.title} {document.number}")
        _clinic_header(pdf, family, text, document)

        pdf.set_font(family, "B", 14)
        _line(pdf, 8, text(f"{document.title} {document.number}"))
        pdf.set_font(family, "", 10)
        _line(pdf, 5, f"Date: {document.issued_on.isoformat()}")
        if document.due_date is not None and document.title == "Invoice":
            _line(pdf, 5, f"Due: {document.due_date.isoformat()}")
        _line(pdf, 5, f"Status: {document.status}")
        _line(pdf, 5, text(f"Patient: {document.patient_name}"))
        _line(pdf, 5, text(f"Bill to: {document.bill_to}"))
        for fact in document.claim_facts:
            _line(pdf, 5, text(fact))
        pdf.ln(4)

        _lines_table(pdf, family, text, document.lines)
        totals = [("Subtotal", document.subtotal), ("Tax", document.tax)]
        if not document.credited.is_zero:
            totals.append(("Credits", -document.credited))
        totals += [("Total", document.total), ("Paid", document.paid), ("Balance", document.balance)]
        _totals(pdf, family, totals, bold={"Total", "Balance"})

        if document.credit_notes:
            pdf.ln(3)
            pdf.set_font(family, "B", 10)
            _line(pdf, 6, "Credit notes")
            pdf.set_font(family, "", 9)
            for note in document.credit_notes:
                _line(pdf, 5, f"{note.number}  {note.issued_on.isoformat()}  {_amount(-note.amount)}")
        if document.payments:
            pdf.ln(3)
            pdf.set_font(family, "B", 10)
            _line(pdf, 6, "Payments")
            pdf.set_font(family, "", 9)
            for payment in document.payments:
                _line(
                    pdf, 5, f"{payment.received_on.isoformat()}  {payment.method}  {_amount(payment.amount)}"
                )
        return bytes(pdf.output())

    def render_credit_note(self, document: CreditNoteDocument) -> bytes:
        pdf, family, text = self._start(f"Credit note {document.number}")
        _clinic_header(pdf, family, text, document)

        pdf.set_font(family, "B", 14)
        _line(pdf, 8, text(f"Credit note {document.number}"))
        pdf.set_font(family, "", 10)
        _line(pdf, 5, f"Date: {document.issued_on.isoformat()}")
        _line(
            pdf,
            5,
            text(f"Credits invoice {document.invoice_number} of {document.invoice_issued_on.isoformat()}"),
        )
        if document.voids_invoice:
            _line(pdf, 5, "Cancels that invoice: everything it still billed is credited")
        _line(pdf, 5, text(f"Patient: {document.patient_name}"))
        _line(pdf, 5, text(f"Bill to: {document.bill_to}"))
        pdf.multi_cell(0, 5, text(f"Reason: {document.reason}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)

        pdf.set_font(family, "B", 10)
        _line(pdf, 6, "Lines credited")
        _lines_table(pdf, family, text, document.lines)
        totals = [("Subtotal", document.subtotal), ("Tax", document.tax), ("Total credited", document.total)]
        _totals(pdf, family, totals, bold={"Total credited"})
        return bytes(pdf.output())

    def _start(self, title: str) -> tuple[FPDF, str, Text]:
        pdf = FPDF(format="Letter")
        pdf.set_title(title)
        pdf.set_creator("IMS clinic billing")
        family, unicode_font = self._install_font(pdf)
        pdf.add_page()
        return pdf, family, (lambda value: value) if unicode_font else _latin1

    def _install_font(self, pdf: FPDF) -> tuple[str, bool]:
        if self._font is None or not self._font.is_file():
            return "Helvetica", False
        pdf.add_font("Body", "", str(self._font))
        bold = self._font.with_name(self._font.stem + "-Bold" + self._font.suffix)
        pdf.add_font("Body", "B", str(bold if bold.is_file() else self._font))
        return "Body", True


def _clinic_header(
    pdf: FPDF, family: str, text: Text, document: InvoiceDocument | CreditNoteDocument
) -> None:
    pdf.set_font(family, "B", 16)
    _line(pdf, 9, text(document.clinic_name))
    pdf.set_font(family, "", 9)
    pdf.multi_cell(0, 5, text(document.clinic_address), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _line(pdf, 5, text(document.clinic_contact))
    if document.gst_hst_number:
        _line(pdf, 5, f"GST/HST Reg. No. {document.gst_hst_number}")
    pdf.ln(4)


def _lines_table(pdf: FPDF, family: str, text: Text, lines: Sequence[DocumentLine]) -> None:
    pdf.set_font(family, "B", 9)
    for width, heading in zip(_WIDTHS, ("Date", "Treatment", "Practitioner", "Amount", "Tax"), strict=True):
        pdf.cell(width, 6, heading, border="B")
    pdf.ln()
    pdf.set_font(family, "", 9)
    for line in lines:
        practitioner = line.practitioner
        if line.registration_number:
            practitioner = f"{practitioner} (Reg. {line.registration_number})"
        cells = (
            line.service_date.isoformat(),
            line.description,
            practitioner,
            _amount(line.amount),
            _amount(line.tax),
        )
        for width, value in zip(_WIDTHS, cells, strict=True):
            pdf.cell(width, 6, text(value))
        pdf.ln()
    pdf.ln(3)


def _totals(pdf: FPDF, family: str, totals: Sequence[tuple[str, Money]], *, bold: set[str]) -> None:
    for label, amount in totals:
        pdf.set_font(family, "B" if label in bold else "", 10)
        pdf.cell(sum(_WIDTHS) - 40, 6, label, align="R")
        pdf.cell(40, 6, _amount(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _line(pdf: FPDF, height: int, value: str) -> None:
    pdf.cell(0, height, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _amount(money: Money) -> str:
    return str(money)


def _latin1(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1")
