"""The billing clerk's pages: the queue of uninvoiced charges, an invoice (review, issue, PDF, credit notes,
audit trail) and recording a payment across the patient's open invoices.

Every page checks the role itself (``staff_required``: billing or admin); billing checks again on every call.
Each form that moves money carries an Idempotency-Key made when the form is shown, sent to billing as a
header, besides the form token accepted once (``submit_once``): a double submission does one thing.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response as BaseResponse

from web.domain.billing_desk import (
    AmountProblem,
    BadAmount,
    amount_text,
    credit_left,
    parse_amount,
    prefill_allocations,
)
from web.domain.day import parse_day
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, apply_api_error, parse_form, submit_once
from web.entrypoints.i18n import format_money, gettext
from web.service_layer import invoices as patient_invoices
from web.service_layer import staff_billing
from web.service_layer.ports import ApiError
from web.service_layer.staff_billing import BILLING_ROLES, PAYERS
from web.service_layer.staff_day import clinics

bp = Blueprint("staff_billing", __name__, url_prefix="/staff/billing")

IDEMPOTENCY_FIELD = "idempotency_key"
METHODS = ("card", "cash", "e_transfer", "insurer")
AMOUNT_SENTENCES = {
    AmountProblem.FORMAT: N_("Enter an amount in dollars and cents, like 120.00"),
    AmountProblem.PRECISION: N_("Enter an amount with no more than 2 digits after the decimal point"),
    AmountProblem.RANGE: N_("Enter an amount more than 0 and less than $1,000,000"),
}
DRAFTED = N_("The draft is ready: check the lines, then issue it.")
DRAFTED_SPLIT = N_("The drafts are ready: check each payer's share, then issue them.")
ISSUED = N_("Issued: %(numbers)s.")
CREDITED = N_("Credit note %(number)s is issued.")
PAID = N_("Payment of %(amount)s recorded.")
PAID_CREDIT = N_("Payment of %(amount)s recorded; %(credit)s is kept as the patient's credit.")
NOTHING_TO_DRAFT = N_("This patient has no charges left to invoice: someone drafted them meanwhile.")


def _key() -> str:
    return str(uuid.uuid4())


def _clinic(chosen: str | None) -> tuple[str | None, list[Any]]:
    """A clinic's staff work in their own clinic; organisation-wide staff pick one."""
    signed = signed_in()
    if signed.clinic_id:
        return signed.clinic_id, []
    choices = clinics(apis(), signed)
    if chosen and any(c.id == chosen for c in choices):
        return chosen, choices
    if len(choices) == 1:
        return choices[0].id, choices
    return None, choices


class QueueFilters(Schema):
    payer = fields.String(load_default="", validate=validate.OneOf(("", "patient", *PAYERS)))


def _page_number(text: str | None) -> int:
    """The queue page asked for; anything but a page number is the first page."""
    return int(text) if text and text.isdigit() and 0 < int(text) <= 10_000 else 1


def _day_field(form: Form, name: str) -> date | None:
    text = (form.values.get(name) or "").strip()
    if not text:
        return None
    day = parse_day(text)
    if day is None:
        form.error(name, N_("Enter a date like 2026-12-01"))
    return day


@bp.get("")
@staff_required(*BILLING_ROLES)
def queue() -> BaseResponse | str | tuple[str, int]:
    clinic_id, choices = _clinic(request.args.get("clinic"))
    if clinic_id is None:
        return render_template("staff/choose_clinic.html", clinics=choices, target="staff_billing.queue")
    filters = parse_form(QueueFilters(), request.args)
    first_day, last_day = _day_field(filters, "from"), _day_field(filters, "to")
    if first_day and last_day and last_day < first_day:
        filters.error("to", N_("The last day must be the same as or after the first day"))
    page = staff_billing.queue_page(
        apis(),
        signed_in(),
        clinic_id,
        first_day=first_day if filters.ok else None,
        last_day=last_day if filters.ok else None,
        payer=filters.data.get("payer", "") if filters.ok else "",
        number=_page_number(request.args.get("page")) if filters.ok else 1,
    )
    return (
        render_template(
            "staff/billing/queue.html",
            page=page,
            filters=filters,
            clinic_id=clinic_id,
            choices=choices,
            done=get_flashed_messages(category_filter=["done"]),
            refused=get_flashed_messages(category_filter=["refused"]),
        ),
        200 if filters.ok else 422,
    )


@bp.post("/drafts")
@staff_required(*BILLING_ROLES)
def draft() -> BaseResponse:
    clinic_id, _ = _clinic(request.form.get("clinic"))
    patient_id = request.form.get("patient", "")
    coverage_id = request.form.get("coverage") or None
    back = url_for(".queue", clinic=clinic_id) if clinic_id else url_for(".queue")

    def run() -> BaseResponse:
        if clinic_id is None or not _is_uuid(patient_id) or (coverage_id and not _is_uuid(coverage_id)):
            abort(400)
        try:
            made = staff_billing.draft(apis(), signed_in(), clinic_id, patient_id, coverage_id)
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            flash(gettext(NOTHING_TO_DRAFT), "refused")
            return redirect(back, 303)
        flash(gettext(DRAFTED_SPLIT if len(made) > 1 else DRAFTED), "done")
        return redirect(url_for(".invoice", invoice_id=made[0]), 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=back)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# --- one invoice -----------------------------------------------------------------------------------------


class CreditForm(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(
            ("void", "partial"), error=N_("Choose whether to void the invoice or credit part of it")
        ),
        error_messages={"required": N_("Choose whether to void the invoice or credit part of it")},
    )
    amount = fields.String(load_default="")
    reason = fields.String(
        required=True,
        validate=validate.Length(max=500, error=N_("The reason must be 500 characters or fewer")),
        error_messages={"required": N_("Enter the reason for the credit note")},
    )


def _invoice_page(
    invoice_id: uuid.UUID, credit_form: Form | None = None, status: int = 200
) -> tuple[str, int]:
    page = staff_billing.invoice_page(apis(), signed_in(), str(invoice_id))
    form = credit_form or Form(values={"kind": "void"})
    return (
        render_template(
            "staff/billing/invoice.html",
            page=page,
            invoice=page.invoice,
            credit_form=form,
            idempotency_key=_key(),
            done=get_flashed_messages(category_filter=["done"]),
        ),
        status,
    )


@bp.get("/invoices/<uuid:invoice_id>")
@staff_required(*BILLING_ROLES)
def invoice(invoice_id: uuid.UUID) -> tuple[str, int]:
    return _invoice_page(invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/issue")
@staff_required(*BILLING_ROLES)
def issue(invoice_id: uuid.UUID) -> BaseResponse:
    here = url_for(".invoice", invoice_id=invoice_id)

    def run() -> BaseResponse:
        page = staff_billing.invoice_page(apis(), signed_in(), str(invoice_id))
        numbers = staff_billing.issue(apis(), signed_in(), [i.id for i in page.drafts])
        if numbers:
            flash(gettext(ISSUED, numbers=", ".join(numbers)), "done")
        return redirect(here, 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=here)


@bp.post("/invoices/<uuid:invoice_id>/credit-notes")
@staff_required(*BILLING_ROLES)
def credit_note(invoice_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    here = url_for(".invoice", invoice_id=invoice_id)

    def run() -> Any:
        form = parse_form(CreditForm(), request.form)
        amount_cents = None
        if form.ok and form.data["kind"] == "partial":
            amount_cents = _amount(form, "amount")
        if not form.ok:
            return _invoice_page(invoice_id, form, 422)
        try:
            note = staff_billing.credit(
                apis(),
                signed_in(),
                str(invoice_id),
                reason=form.data["reason"],
                amount_cents=amount_cents,
                idempotency_key=request.form.get(IDEMPOTENCY_FIELD) or _key(),
            )
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            apply_api_error(
                form,
                error,
                {
                    "amount_cents": (
                        "amount",
                        N_("Enter an amount no more than what is left to pay on the invoice"),
                    ),
                    "reason": ("reason", N_("Enter the reason for the credit note")),
                },
                N_("This invoice cannot be credited now: only an issued invoice with a balance can be."),
            )
            return _invoice_page(invoice_id, form, 422)
        flash(gettext(CREDITED, number=note.get("number", "")), "done")
        return redirect(here, 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), _as_response(run), already_done=here)


def _as_response(run: Any) -> Any:
    """submit_once wants a Response; a re-rendered page (body, status) becomes one."""

    def wrapped() -> BaseResponse:
        result = run()
        if isinstance(result, tuple):
            body, status = result
            return Response(body, status=status, mimetype="text/html")
        return result  # type: ignore[no-any-return]

    return wrapped


def _amount(form: Form, name: str, *, allow_zero: bool = False) -> int | None:
    try:
        return parse_amount(str(form.values.get(name) or ""), allow_zero=allow_zero)
    except BadAmount as bad:
        form.error(name, AMOUNT_SENTENCES[bad.problem])
        return None


@bp.get("/invoices/<uuid:invoice_id>/pdf")
@staff_required(*BILLING_ROLES)
def pdf(invoice_id: uuid.UUID) -> Response:
    try:
        document = patient_invoices.invoice_document(apis(), signed_in(), str(invoice_id), receipt=False)
    except ApiError as error:
        if error.status in (404, 410, 422):
            abort(404)
        raise
    response = Response(document.content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response.headers["Content-Length"] = str(len(document.content))
    return response


# --- payments --------------------------------------------------------------------------------------------


class PaymentForm(Schema):
    method = fields.String(
        required=True,
        validate=validate.OneOf(METHODS, error=N_("Choose how the patient paid")),
        error_messages={"required": N_("Choose how the patient paid")},
    )


@bp.route("/patients/<uuid:patient_id>/payments", methods=["GET", "POST"])
@staff_required(*BILLING_ROLES)
def payment(patient_id: uuid.UUID) -> Any:
    clinic_id, _ = _clinic(request.values.get("clinic"))
    if clinic_id is None:
        abort(404)
    setup = staff_billing.payment_setup(apis(), signed_in(), clinic_id, str(patient_id))
    here = url_for(".payment", patient_id=patient_id, clinic=clinic_id)
    if request.method == "GET":
        prefill = prefill_allocations(setup.open_invoices, None)
        form = Form(
            values={"method": "card", "amount": amount_text(sum(prefill.values())) if prefill else ""}
            | {f"alloc-{i}": amount_text(cents) for i, cents in prefill.items()}
        )
        return _payment_page(setup, form, clinic_id, patient_id)

    def run() -> Any:
        form = parse_form(PaymentForm(), request.form)
        amount = _amount(form, "amount")
        allocations: dict[str, int] = {}
        for invoice in setup.open_invoices:
            name = f"alloc-{invoice.id}"
            if not str(form.values.get(name) or "").strip():
                continue
            cents = _amount(form, name, allow_zero=True)
            if cents is not None and cents > invoice.balance_cents:
                form.error(name, N_("Enter no more than what is left to pay on this invoice"))
            elif cents:
                allocations[invoice.id] = cents
        if amount is not None and form.ok and credit_left(amount, allocations) < 0:
            form.error("amount", N_("The amounts put on invoices add up to more than the payment"))
        if not form.ok or amount is None:
            return _payment_page(setup, form, clinic_id, patient_id, 422)
        try:
            recorded = staff_billing.record_payment(
                apis(),
                signed_in(),
                staff_billing.NewPayment(
                    clinic_id=clinic_id,
                    patient_id=str(patient_id),
                    method=form.data["method"],
                    amount_cents=amount,
                    currency=setup.currency,
                    allocations=allocations,
                    idempotency_key=request.form.get(IDEMPOTENCY_FIELD) or _key(),
                ),
            )
        except ApiError as error:
            if error.status not in (404, 409, 422):
                raise
            apply_api_error(
                form,
                error,
                {
                    "amount_cents": ("amount", AMOUNT_SENTENCES[AmountProblem.RANGE]),
                    "method": ("method", N_("Choose how the patient paid")),
                },
                N_("Billing could not record this payment: an invoice changed meanwhile. Check the amounts."),
            )
            return _payment_page(setup, form, clinic_id, patient_id, 422)
        kept = int(recorded.get("unallocated_cents") or 0)
        money = {"amount": _money(amount, setup.currency), "credit": _money(kept, setup.currency)}
        flash(gettext(PAID_CREDIT if kept else PAID, **money), "done")
        return redirect(here, 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), _as_response(run), already_done=here)


def _money(cents: int, currency: str) -> str:
    return format_money(cents, currency)


def _payment_page(
    setup: staff_billing.PaymentSetup, form: Form, clinic_id: str, patient_id: uuid.UUID, status: int = 200
) -> tuple[str, int]:
    return (
        render_template(
            "staff/billing/payment.html",
            setup=setup,
            form=form,
            clinic_id=clinic_id,
            patient_id=str(patient_id),
            methods=METHODS,
            idempotency_key=_key(),
            done=get_flashed_messages(category_filter=["done"]),
        ),
        status,
    )


# The reports page's routes join this blueprint (a module of their own, for size).
from web.entrypoints.views import staff_billing_reports  # noqa: E402, F401
