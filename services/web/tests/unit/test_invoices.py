"""The invoices page: status words, clinic dates, credit notes on their invoice, credit, and PDF downloads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.adapters.sessions import SqliteStore
from web.config import WebSettings
from web.domain.invoices import (
    Credit,
    InvoiceState,
    credits_to_show,
    document_filename,
    local_day,
    state_of,
    totals_by_currency,
)
from web.entrypoints.app import create_app
from web.service_layer import invoices
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis
from web.testing import FakeApi, patient_credentials, sign_in

PATIENT = "6f9a4a1e-0000-4000-8000-000000000001"
CLINIC = "6f9a4a1e-0000-4000-8000-0000000000c1"
OTHER_CLINIC = "6f9a4a1e-0000-4000-8000-0000000000c2"
INVOICE = "6f9a4a1e-0000-4000-8000-0000000000a1"


def credentials() -> Credentials:
    return patient_credentials(PATIENT)


def invoice(number: str, issued_at: str | None, status: str = "issued", **amounts: Any) -> dict[str, Any]:
    body = {
        "id": amounts.pop("id", f"inv-{number}"),
        "number": number if issued_at else None,
        "status": status,
        "clinic_id": amounts.pop("clinic_id", CLINIC),
        "patient_id": PATIENT,
        "payer_kind": amounts.pop("payer_kind", "patient"),
        "currency": "CAD",
        "total_cents": 12000,
        "paid_cents": 0,
        "credited_cents": 0,
        "balance_cents": 12000,
        "issued_at": issued_at,
    }
    return body | amounts


def apis(invoices_listed: list[dict[str, Any]], payments: list[dict[str, Any]] | None = None) -> Apis:
    billing = FakeApi(
        "billing",
        {
            ("GET", "/invoices"): invoices_listed,
            ("GET", "/payments"): payments or [],
            ("GET", f"/patients/{PATIENT}/credit"): lambda params, **_: {
                "credit_cents": 2000 if params["clinic_id"] == CLINIC else 0,
                "currency": "CAD",
            },
        },
    )
    scheduling = FakeApi(
        "scheduling",
        {
            ("GET", f"/clinics/{CLINIC}"): {"name": "Vancouver IMS", "timezone": "America/Vancouver"},
            ("GET", f"/clinics/{OTHER_CLINIC}"): {"name": "Victoria IMS", "timezone": "America/Vancouver"},
        },
    )
    return Apis(scheduling=scheduling, billing=billing, notifications=FakeApi("notifications"))


# --- rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "paid", "balance", "state"),
    [
        ("issued", 0, 12000, InvoiceState.ISSUED),
        ("issued", 5000, 7000, InvoiceState.PART_PAID),
        ("balanced", 12000, 0, InvoiceState.PAID),
        ("balanced", 0, 0, InvoiceState.CREDITED),
        ("cancelled", 0, 0, InvoiceState.VOID),
        ("draft", 0, 12000, None),
    ],
)
def test_billings_status_reads_as_a_word(status: str, paid: int, balance: int, state: InvoiceState) -> None:
    assert state_of(status, paid, balance) == state


def test_an_invoice_is_dated_on_the_clinics_calendar() -> None:
    # 4:30 p.m. on New Year's Eve in Vancouver is already 1 January in UTC.
    assert local_day("2026-01-01T00:30:00+00:00", "America/Vancouver") == date(2025, 12, 31)
    assert local_day("2026-01-01T00:30:00+00:00", "America/Toronto") == date(2025, 12, 31)
    assert local_day("2026-01-01T08:30:00+00:00", "America/Vancouver") == date(2026, 1, 1)


def test_amounts_are_summed_per_currency_never_across() -> None:
    assert totals_by_currency([(7000, "CAD"), (500, "USD"), (1000, "CAD"), (0, "EUR")]) == [
        (8000, "CAD"),
        (500, "USD"),
    ]


def test_file_names_are_safe_in_a_header() -> None:
    assert document_filename("invoice", "VAN-2026-000123", "x") == "invoice-VAN-2026-000123.pdf"
    assert document_filename("receipt", 'a"b\r\nc/../d', "x") == "receipt-a-b-c-..-d.pdf"
    assert document_filename("invoice", None, "6f9a") == "invoice-6f9a.pdf"


def test_only_real_credit_is_shown_largest_first() -> None:
    shown = credits_to_show([Credit("a", 0, "CAD"), Credit("b", 500, "CAD"), Credit("c", 2000, "CAD")])
    assert [c.clinic_id for c in shown] == ["c", "b"]


# --- what the page asks of the services ----------------------------------------------------------------


def test_the_page_lists_issued_invoices_newest_first_with_their_credit_notes_and_the_credit() -> None:
    listed = [
        invoice(
            "VAN-2026-000001", "2026-01-05T18:00:00+00:00", "balanced", paid_cents=12000, balance_cents=0
        ),
        invoice("", None, "draft"),
        invoice(
            "VAN-2026-000002",
            "2026-02-05T18:00:00+00:00",
            total_cents=10000,
            credited_cents=2000,
            paid_cents=5000,
            balance_cents=5000,
        ),
    ]
    fake = apis(listed, payments=[{"clinic_id": CLINIC}])
    fake.billing.routes[("GET", "/invoices/inv-VAN-2026-000002/credit-notes")] = [  # type: ignore[attr-defined]
        {
            "number": "VAN-CN-2026-000001",
            "issued_at": "2026-02-06T01:00:00+00:00",
            "amount_cents": 2000,
            "currency": "CAD",
            "voids_invoice": False,
        }
    ]

    page = invoices.invoices_page(fake, credentials())

    assert [(row.number, row.state) for row in page.invoices] == [
        ("VAN-2026-000002", InvoiceState.PART_PAID),
        ("VAN-2026-000001", InvoiceState.PAID),
    ]
    (note,) = page.invoices[0].credit_notes
    assert (note.number, note.issued_on, note.cents) == ("VAN-CN-2026-000001", date(2026, 2, 5), 2000)
    assert page.invoices[1].has_receipt
    assert page.invoices[0].has_receipt
    assert page.to_pay == [(5000, "CAD")]
    assert [(c.cents, c.currency) for c in page.credits] == [(2000, "CAD")]
    assert not page.several_clinics
    billing_paths = [path for _, path, _, _ in fake.billing.calls]  # type: ignore[attr-defined]
    # Credit notes are asked for only where billing says something was credited.
    assert billing_paths.count("/invoices/inv-VAN-2026-000002/credit-notes") == 1
    assert "/invoices/inv-VAN-2026-000001/credit-notes" not in billing_paths


def test_an_insurers_invoice_is_not_counted_as_the_patients_to_pay() -> None:
    listed = [invoice("VAN-2026-000003", "2026-02-05T18:00:00+00:00", payer_kind="icbc")]
    page = invoices.invoices_page(apis(listed), credentials())
    assert page.to_pay == []
    assert page.invoices[0].payer_kind == "icbc"


def test_every_page_of_invoices_is_read() -> None:
    many = [invoice(f"VAN-2026-{n:06d}", "2026-02-05T18:00:00+00:00", id=f"i{n}") for n in range(150)]

    def paged(params: dict[str, Any], **_: Any) -> list[dict[str, Any]]:
        start = (params["page"] - 1) * params["page_size"]
        return many[start : start + params["page_size"]]

    fake = apis([])
    fake.billing.routes[("GET", "/invoices")] = paged  # type: ignore[attr-defined]
    assert len(invoices.invoices_page(fake, credentials()).invoices) == 150


# --- the pages -------------------------------------------------------------------------------------------


@pytest.fixture
def app_for(tmp_path: Path) -> Iterator[Callable[[Apis], FlaskClient]]:
    def build(fake: Apis) -> FlaskClient:
        settings = WebSettings.from_env(
            {"WEB_SECRET_KEY": "unit-test-secret-key-0123456789abcdef", "VAR_DIR": str(tmp_path)}
        )
        app: Flask = create_app(settings, apis=fake, store=SqliteStore(tmp_path / "sessions.db"))
        app.config.update(WTF_CSRF_ENABLED=False, TESTING=True)
        client = app.test_client()
        sign_in(client, credentials())
        with client.session_transaction() as session:
            session["language"] = "en"
        return client

    return build


def test_the_page_shows_status_words_money_dates_and_downloads(
    app_for: Callable[[Apis], FlaskClient],
) -> None:
    listed = [
        invoice(
            "VAN-2026-000002",
            "2026-01-01T00:30:00+00:00",
            paid_cents=5000,
            balance_cents=7000,
            id=INVOICE,
        )
    ]
    client = app_for(apis(listed, payments=[{"clinic_id": CLINIC}]))
    html = client.get("/invoices").get_data(as_text=True)
    assert "VAN-2026-000002" in html
    assert "Part paid" in html
    assert "$120.00" in html
    assert "$70.00" in html
    assert "Dec 31, 2025" in html  # the clinic's date, not UTC's
    assert "You have $20.00 of credit. The clinic can use it toward what you owe." in html
    assert f"/invoices/{INVOICE}/pdf" in html
    assert f"/invoices/{INVOICE}/receipt" in html
    assert 'class="stack invoices"' in html
    assert 'data-label="Balance"' in html


def test_no_invoices_is_said_in_a_plain_sentence(app_for: Callable[[Apis], FlaskClient]) -> None:
    html = app_for(apis([])).get("/invoices").get_data(as_text=True)
    assert "You have no invoices yet." in html
    assert "<table" not in html


def test_the_page_is_in_french_for_a_french_reader(app_for: Callable[[Apis], FlaskClient]) -> None:
    listed = [invoice("VAN-2026-000002", "2026-02-05T18:00:00+00:00", status="cancelled", balance_cents=0)]
    client = app_for(apis(listed))
    with client.session_transaction() as session:
        session["language"] = "fr"
    html = client.get("/invoices").get_data(as_text=True)
    assert "Factures et reçus" in html
    assert "Annulée" in html
    assert "120,00" in html


def test_a_pdf_is_handed_on_as_a_download_named_after_the_invoice(
    app_for: Callable[[Apis], FlaskClient],
) -> None:
    fake = apis([])
    fake.billing.routes.update(  # type: ignore[attr-defined]
        {
            ("GET", f"/invoices/{INVOICE}"): invoice("VAN-2026-000002", "2026-02-05T18:00:00+00:00"),
            ("GET", f"/invoices/{INVOICE}/pdf"): SimpleNamespace(content=b"%PDF-1.7 invoice"),
            ("GET", f"/invoices/{INVOICE}/receipt"): ApiError(422, "Unprocessable Content"),
        }
    )
    client = app_for(fake)
    response = client.get(f"/invoices/{INVOICE}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="invoice-VAN-2026-000002.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"%PDF")
    # Nothing paid: no receipt, and the page says "not found" rather than failing.
    assert client.get(f"/invoices/{INVOICE}/receipt").status_code == 404
    # Another patient's (or an unknown) invoice: billing answers 404, and so do we.
    assert client.get("/invoices/6f9a4a1e-0000-4000-8000-0000000000ff/pdf").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(tmp_path: Path) -> None:
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "unit-test-secret-key-0123456789abcdef", "VAR_DIR": str(tmp_path)}
    )
    app = create_app(settings, apis=apis([]), store=SqliteStore(tmp_path / "sessions.db"))
    response = app.test_client().get(f"/invoices/{INVOICE}/pdf")
    assert response.status_code == 303
    assert "/login?next=" in response.headers["Location"]


def test_an_invoice_of_a_clinic_scheduling_no_longer_knows_still_shows() -> None:
    listed = [invoice("VAN-2026-000004", "2026-01-01T00:30:00+00:00", clinic_id="gone")]
    page = invoices.invoices_page(apis(listed), credentials())
    (row,) = page.invoices
    assert (row.number, row.issued_on, row.clinic_name) == ("VAN-2026-000004", date(2025, 12, 31), "")
