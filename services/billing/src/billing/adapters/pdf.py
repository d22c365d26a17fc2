"""PDF invoices and official receipts with fpdf2 (pure Python).

A TrueType font (DejaVu Sans by default) is embedded when its file exists, so any name prints; without
it the PDF falls back to the core Helvetica font, which covers Latin-1 (English and French) only.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from billing.domain.money import Money
from billing.service_layer.documents import InvoiceDocument


class FpdfRenderer:
    """Lays out an invoice or receipt on one or more A4/Letter pages."""

    def __init__(self, font_path: str | None) -> None:
        self._font = Path(font_path) if font_path else None

    def render(self, document: InvoiceDocument) -> bytes:
        pdf = FPDF(format="Letter")
        pdf.set_title(f"{document.title} {document.number}")
        pdf.set_creator("IMS clinic billing")
        family, unicode_font = self._install_font(pdf)
        text = (lambda value: value) if unicode_font else _latin1
        pdf.add_page()

        pdf.set_font(family, "B", 16)
        _line(pdf, 9, text(document.clinic_name))
        pdf.set_font(family, "", 9)
        pdf.multi_cell(0, 5, text(document.clinic_address), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _line(pdf, 5, text(document.clinic_contact))
        pdf.ln(4)

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

        widths = (24, 62, 62, 22, 22)
        pdf.set_font(family, "B", 9)
        for width, heading in zip(
            widths, ("Date", "Treatment", "Practitioner", "Amount", "Tax"), strict=True
        ):
            pdf.cell(width, 6, heading, border="B")
        pdf.ln()
        pdf.set_font(family, "", 9)
        for line in document.lines:
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
            for width, value in zip(widths, cells, strict=True):
                pdf.cell(width, 6, text(value))
            pdf.ln()
        pdf.ln(3)

        totals = [("Subtotal", document.subtotal), ("Tax", document.tax)]
        if not document.credited.is_zero:
            totals.append(("Credits", -document.credited))
        totals += [("Total", document.total), ("Paid", document.paid), ("Balance", document.balance)]
        for label, amount in totals:
            pdf.set_font(family, "B" if label in {"Total", "Balance"} else "", 10)
            pdf.cell(sum(widths) - 40, 6, label, align="R")
            pdf.cell(40, 6, _amount(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

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

    def _install_font(self, pdf: FPDF) -> tuple[str, bool]:
        if self._font is None or not self._font.is_file():
            return "Helvetica", False
        pdf.add_font("Body", "", str(self._font))
        bold = self._font.with_name(self._font.stem + "-Bold" + self._font.suffix)
        pdf.add_font("Body", "B", str(bold if bold.is_file() else self._font))
        return "Body", True


def _line(pdf: FPDF, height: int, value: str) -> None:
    pdf.cell(0, height, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _amount(money: Money) -> str:
    return str(money)


def _latin1(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1")
