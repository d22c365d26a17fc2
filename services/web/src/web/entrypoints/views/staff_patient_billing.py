"""The billing forms of a patient's page for staff: add a coverage, end one, put credit on an invoice,
sell a package, refund a payment.

They join ``staff_practice``'s blueprint (its patient page shows them) and are offered to those billing lets
change them (``BILLING_READERS``: billing staff, admins, the front desk; a refund: billing staff and admins,
``BILLING_ROLES``); billing checks again on every call. Each is accepted once (its form token); the credit
and refund forms also send billing an Idempotency-Key made when the page was shown. A refusal re-renders the
page with the sentence beside the field, as 422.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import abort, flash, redirect, request, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.domain.billing_desk import AmountProblem, BadAmount, parse_amount
from web.domain.coverages import API_FIELDS, PAYER_KINDS, BadPercent, for_payer, missing_for, parse_percent
from web.domain.waitlist import read_date
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, apply_api_error, parse_form, submit_once
from web.entrypoints.i18n import format_long_day, format_money, gettext
from web.entrypoints.views.staff import clinic_for
from web.entrypoints.views.staff_admin_common import DATE_PROBLEMS
from web.entrypoints.views.staff_billing import AMOUNT_SENTENCES, IDEMPOTENCY_FIELD
from web.entrypoints.views.staff_practice import BillingForms, bp, render_patient
from web.service_layer import patient_billing, staff_billing
from web.service_layer.patient_billing import BILLING_READERS, PaymentRow
from web.service_layer.ports import ApiError
from web.service_layer.staff_billing import BILLING_ROLES

CHOOSE_PAYER = N_("Select who pays: WorkSafeBC, ICBC or an extended health plan")
MISSING = {
    "claim_number": N_("Enter the claim number"),
    "injury": N_("Enter the date of injury"),
    "employer_name": N_("Enter the employer's name"),
    "insurer_fee": N_("Enter what ICBC pays for each visit"),
    "policy_number": N_("Enter the policy number"),
    "coverage_percent": N_("Enter the share of each visit the plan covers, from 0 to 100"),
}
BAD_PERCENT = N_("Enter the share as a percentage from 0 to 100, like 80")
NOT_ADDED = N_("Billing could not add this coverage. Check the details and try again.")
ADDED = N_("The coverage is added.")
LAST_DAY = N_("Enter the coverage's last day")
LAST_DAY_TOO_EARLY = N_("The last day must be the same as or after the coverage's first day")
NOT_ENDED = N_("This coverage is no longer on the patient's file. Reload the page.")
ENDED = N_("The coverage's last day is %(day)s.")
CHOOSE_INVOICE = N_("Select the invoice to put the credit on")
OVER_CREDIT = N_("Enter no more than the patient's credit, %(credit)s")
OVER_BALANCE = N_("Enter no more than what is left to pay on this invoice")
NOT_APPLIED = N_(
    "Billing could not apply this credit: the credit or the invoice changed meanwhile. Check the amounts."
)
APPLIED = N_("%(amount)s of credit is put on invoice %(number)s.")
REFUND_REASON = N_("Enter why the payment is refunded")
REFUND_REASON_LONG = N_("The reason must be 500 characters or fewer")
OVER_REFUNDABLE = N_("Enter no more than what is left of this payment as credit, %(left)s")
NOT_REFUNDED = N_(
    "Billing could not refund this payment: its credit changed meanwhile. Check the amount and try again."
)
NO_PAYMENT = N_("This payment can no longer be refunded here. Reload the page.")
REFUNDED = N_("%(amount)s of the payment of %(payment)s is refunded.")
PACKAGE_NAME = N_("Enter the package's name, like IMS 6-pack")
PACKAGE_NAME_LONG = N_("The package's name must be 120 characters or fewer")
PACKAGE_TREATMENT = N_("Select the treatment the package is for")
PACKAGE_SESSIONS = N_("Enter the number of sessions, from 1 to 100")
PACKAGE_LAST_DAY = N_("The last day must be today or later")
NOT_SOLD = N_("Billing could not sell this package. Check the details and try again.")
SOLD = N_("The package %(name)s is sold. Its invoice is a draft: review it and issue it.")


class CoverageForm(Schema):
    payer_kind = fields.String(
        required=True,
        validate=validate.OneOf(PAYER_KINDS, error=CHOOSE_PAYER),
        error_messages={"required": CHOOSE_PAYER},
    )
    claim_number = fields.String(
        load_default=None,
        validate=validate.Length(max=40, error=N_("The claim number must be 40 characters or fewer")),
    )
    employer_name = fields.String(
        load_default=None,
        validate=validate.Length(max=200, error=N_("The employer's name must be 200 characters or fewer")),
    )
    policy_number = fields.String(
        load_default=None,
        validate=validate.Length(max=60, error=N_("The policy number must be 60 characters or fewer")),
    )


def _patient_url(patient_id: uuid.UUID, clinic_id: str, chose: bool, anchor: str) -> str:
    keep = {"clinic": clinic_id} if chose else {}
    return url_for("staff_practice.patient", patient_id=patient_id, **keep) + f"#{anchor}"


def _clinic() -> tuple[str, bool]:
    clinic_id, choices = clinic_for(request.args.get("clinic"))
    if clinic_id is None:
        abort(404)
    return clinic_id, bool(choices)


def _date(form: Form, prefix: str, wrong: dict[str, tuple[str, ...]]) -> date | None:
    """The date of the ``{prefix}_day/_month/_year`` boxes; None when all are blank or it is wrong."""
    answer = read_date(*(str(form.values.get(f"{prefix}_{part}") or "") for part in ("day", "month", "year")))
    if answer.problem is not None:
        parts = answer.wrong_parts or ("day", "month", "year")
        problem = DATE_PROBLEMS.get(str(answer.problem), DATE_PROBLEMS["not_a_date"])
        form.error(f"{prefix}_{parts[0]}", problem)
        wrong[prefix] = parts
    return answer.value


def _cents(form: Form, name: str) -> int | None:
    text = str(form.values.get(name) or "")
    if not text:
        return None
    try:
        return parse_amount(text, allow_zero=True)
    except BadAmount as bad:
        form.error(name, AMOUNT_SENTENCES[bad.problem])
        return None


def read_coverage(values: Any) -> tuple[Form, dict[str, Any], dict[str, tuple[str, ...]]]:
    """The add form as sent: billing's Coverage fields, and the date parts in error."""
    form = parse_form(CoverageForm(), values)
    wrong: dict[str, tuple[str, ...]] = {}
    percent = None
    if form.values.get("coverage_percent"):
        try:
            percent = parse_percent(str(form.values["coverage_percent"]))
        except BadPercent:
            form.error("coverage_percent", BAD_PERCENT)
    given = {
        "claim_number": form.data.get("claim_number") or form.values.get("claim_number") or None,
        "employer_name": form.data.get("employer_name") or form.values.get("employer_name") or None,
        "policy_number": form.data.get("policy_number") or form.values.get("policy_number") or None,
        "injury": _date(form, "injury", wrong),
        "insurer_fee": _cents(form, "insurer_fee"),
        "coverage_percent": percent,
    }
    coverage = {
        "payer_kind": form.data.get("payer_kind"),
        "claim_number": given["claim_number"],
        "employer_name": given["employer_name"],
        "policy_number": given["policy_number"],
        "date_of_injury": given["injury"].isoformat() if given["injury"] else None,
        "insurer_fee_cents": given["insurer_fee"],
        "coverage_bp": percent,
        "per_visit_max_cents": _cents(form, "per_visit_max"),
        "annual_max_cents": _cents(form, "annual_max"),
        "valid_from": (first := _date(form, "valid_from", wrong)) and first.isoformat(),
    }
    for name in missing_for(str(form.data.get("payer_kind") or ""), given):
        form.error("injury_day" if name == "injury" else name, MISSING[name])
        if name == "injury":
            wrong.setdefault("injury", ("day", "month", "year"))
    return form, for_payer(coverage), wrong


@bp.post("/patients/<uuid:patient_id>/coverages")
@staff_required(*BILLING_READERS)
def add_coverage(patient_id: uuid.UUID) -> Response:
    clinic_id, chose = _clinic()
    back = _patient_url(patient_id, clinic_id, chose, "coverages-heading")

    def run() -> Response:
        form, coverage, wrong = read_coverage(request.form)
        if form.ok:
            try:
                patient_billing.add_coverage(apis(), signed_in(), clinic_id, str(patient_id), coverage)
            except ApiError as error:
                if error.status not in (404, 422):
                    raise
                apply_api_error(form, error, _COVERAGE_FIELDS, NOT_ADDED)
        if not form.ok:
            return render_patient(patient_id, clinic_id, chose, BillingForms(coverage=form, wrong=wrong), 422)
        flash(gettext(ADDED), "done")
        return redirect(back, 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=back)


def _api_sentence(form_field: str) -> str:
    if form_field == "payer_kind":
        return CHOOSE_PAYER
    if form_field == "coverage_percent":
        return BAD_PERCENT
    return MISSING.get(form_field, NOT_ADDED)


# billing's field -> (the form's field in error, its sentence); a date's error goes on its day box
_COVERAGE_FIELDS = {
    api: (f"{name}_day" if name in ("injury", "valid_from") else name, _api_sentence(name))
    for api, name in API_FIELDS.items()
}


@bp.post("/patients/<uuid:patient_id>/coverages/<uuid:coverage_id>/end")
@staff_required(*BILLING_READERS)
def end_coverage(patient_id: uuid.UUID, coverage_id: uuid.UUID) -> Response:
    clinic_id, chose = _clinic()
    back = _patient_url(patient_id, clinic_id, chose, f"coverage-{coverage_id}")
    prefix = f"end_{coverage_id}"

    def fail(form: Form, wrong: tuple[str, ...]) -> Response:
        forms = BillingForms(end=form, end_id=str(coverage_id), end_wrong=wrong)
        return render_patient(patient_id, clinic_id, chose, forms, 422)

    def run() -> Response:
        form = Form(values={k: v.strip() for k, v in request.form.items() if k != "csrf_token"})
        wrong: dict[str, tuple[str, ...]] = {}
        last_day = _date(form, prefix, wrong)
        if form.ok and last_day is None:
            form.error(f"{prefix}_day", LAST_DAY)
            wrong[prefix] = ("day", "month", "year")
        if last_day is None or not form.ok:
            return fail(form, wrong.get(prefix, ()))
        try:
            patient_billing.end_coverage(apis(), signed_in(), str(patient_id), str(coverage_id), last_day)
        except ApiError as error:
            if error.status not in (404, 422):
                raise
            apply_api_error(form, error, {"valid_to": (f"{prefix}_day", LAST_DAY_TOO_EARLY)}, NOT_ENDED)
            return fail(form, ("day", "month", "year") if "valid_to" in error.fields else ())
        flash(gettext(ENDED, day=format_long_day(last_day)), "done")
        return redirect(back, 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=back)


class CreditForm(Schema):
    invoice_id = fields.String(required=True, error_messages={"required": CHOOSE_INVOICE})


@bp.post("/patients/<uuid:patient_id>/credit/applications")
@staff_required(*BILLING_READERS)
def apply_credit(patient_id: uuid.UUID) -> Response:
    clinic_id, chose = _clinic()
    back = _patient_url(patient_id, clinic_id, chose, "credit-heading")

    def run() -> Response:
        billing = staff_billing.payment_setup(apis(), signed_in(), clinic_id, str(patient_id))
        form = parse_form(CreditForm(), request.form)
        chosen = next((i for i in billing.open_invoices if i.id == form.data.get("invoice_id")), None)
        if form.ok and chosen is None:
            form.error("invoice_id", CHOOSE_INVOICE)
        amount = _cents(form, "credit_amount")
        if amount is None and "credit_amount" not in form.errors:
            form.error("credit_amount", AMOUNT_SENTENCES[AmountProblem.FORMAT])
        elif amount is not None and amount <= 0:
            form.error("credit_amount", AMOUNT_SENTENCES[AmountProblem.RANGE])
        elif amount is not None and amount > billing.credit_cents:
            money = format_money(billing.credit_cents, billing.currency)
            form.errors.setdefault("credit_amount", gettext(OVER_CREDIT, credit=money))
        elif amount is not None and chosen is not None and amount > chosen.balance_cents:
            form.error("credit_amount", OVER_BALANCE)
        if form.ok and chosen is not None and amount is not None:
            try:
                patient_billing.apply_credit(
                    apis(),
                    signed_in(),
                    patient_billing.CreditApplication(
                        clinic_id=clinic_id,
                        patient_id=str(patient_id),
                        invoice_id=chosen.id,
                        amount_cents=amount,
                        currency=billing.currency,
                        idempotency_key=request.form.get(IDEMPOTENCY_FIELD) or str(uuid.uuid4()),
                    ),
                )
            except ApiError as error:
                if error.status not in (404, 409, 422):
                    raise
                form.error("_form", NOT_APPLIED)
            else:
                money = format_money(amount, billing.currency)
                flash(gettext(APPLIED, amount=money, number=chosen.number), "done")
                return redirect(back, 303)
        return render_patient(patient_id, clinic_id, chose, BillingForms(credit=form), 422)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=back)


# --- selling a package ------------------------------------------------------------------------------------


class PackageForm(Schema):
    package_name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120, error=PACKAGE_NAME_LONG),
        error_messages={"required": PACKAGE_NAME},
    )
    package_treatment = fields.String(required=True, error_messages={"required": PACKAGE_TREATMENT})
    package_sessions = fields.Integer(
        required=True,
        strict=False,
        validate=validate.Range(min=1, max=100, error=PACKAGE_SESSIONS),
        error_messages={"required": PACKAGE_SESSIONS, "invalid": PACKAGE_SESSIONS},
    )


# billing's field -> (the form's field in error, its sentence)
_PACKAGE_FIELDS = {
    "name": ("package_name", PACKAGE_NAME),
    "treatment_type_id": ("package_treatment", PACKAGE_TREATMENT),
    "sessions": ("package_sessions", PACKAGE_SESSIONS),
    "amount_cents": ("package_price", AMOUNT_SENTENCES[AmountProblem.FORMAT]),
    "expires_on": ("package_last_day_day", PACKAGE_LAST_DAY),
}


@bp.post("/patients/<uuid:patient_id>/packages")
@staff_required(*BILLING_READERS)
def sell_package(patient_id: uuid.UUID) -> Response:
    """Sell a package of sessions; billing drafts its invoice, which billing staff then review and issue."""
    clinic_id, chose = _clinic()
    back = _patient_url(patient_id, clinic_id, chose, "packages-heading")

    def run() -> Response:
        billing = staff_billing.payment_setup(apis(), signed_in(), clinic_id, str(patient_id))
        form = parse_form(PackageForm(), request.form)
        wrong: dict[str, tuple[str, ...]] = {}
        price = _cents(form, "package_price")
        if price is None and "package_price" not in form.errors:
            form.error("package_price", AMOUNT_SENTENCES[AmountProblem.FORMAT])
        last_day = _date(form, "package_last_day", wrong)
        if form.ok and price is not None:
            sale = patient_billing.PackageSale(
                clinic_id=clinic_id,
                patient_id=str(patient_id),
                treatment_type_id=str(form.data["package_treatment"]),
                name=str(form.data["package_name"]).strip(),
                sessions=int(form.data["package_sessions"]),
                amount_cents=price,
                currency=billing.currency,
                expires_on=last_day,
            )
            try:
                sold = patient_billing.sell_package(apis(), signed_in(), sale)
            except ApiError as error:
                if error.status not in (404, 422):
                    raise
                apply_api_error(form, error, _PACKAGE_FIELDS, NOT_SOLD)
                if "package_last_day_day" in form.errors:
                    wrong["package_last_day"] = ("day", "month", "year")
            else:
                flash(gettext(SOLD, name=sale.name), "done")
                if BILLING_ROLES & set(signed_in().roles):  # its draft invoice, to review and issue
                    return redirect(url_for("staff_billing.invoice", invoice_id=sold["invoice_id"]), 303)
                return redirect(back, 303)
        return render_patient(patient_id, clinic_id, chose, BillingForms(package=form, wrong=wrong), 422)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=back)


# --- refunding a payment ----------------------------------------------------------------------------------


@dataclass
class RefundForms(BillingForms):
    """The page's billing forms with the refund form of one payment sent back (``refund_id``)."""

    refund: Form = field(default_factory=Form)
    refund_id: str | None = None

    @property
    def failed(self) -> Form | None:
        return self.refund if self.refund.errors else super().failed


@bp.context_processor
def _refund_forms() -> dict[str, Any]:
    """The billing section (``_billing.html``) shows each refundable payment's form."""
    return {"refund_form": _refund_form}


def _refund_form(payment: PaymentRow) -> Form:
    """A payment's refund form as first shown: the amount is what is left to refund."""
    return Form(values={f"refund_{payment.id}_amount": payment.refundable_text})


def refund_schema(prefix: str) -> Schema:
    """The reason of the refund form of one payment (its fields are named ``refund_{payment}_...``)."""
    reason = fields.String(
        required=True,
        validate=validate.Length(max=500, error=REFUND_REASON_LONG),
        error_messages={"required": REFUND_REASON},
    )
    return Schema.from_dict({f"{prefix}_reason": reason})()


@bp.post("/patients/<uuid:patient_id>/payments/<uuid:payment_id>/refunds")
@staff_required(*BILLING_ROLES)
def refund_payment(patient_id: uuid.UUID, payment_id: uuid.UUID) -> Response:
    clinic_id, chose = _clinic()
    back = _patient_url(patient_id, clinic_id, chose, "payments-heading")
    prefix = f"refund_{payment_id}"
    amount_field = f"{prefix}_amount"

    def run() -> Response:
        payments = patient_billing.patient_payments(apis(), signed_in(), clinic_id, str(patient_id))
        payment = next((p for p in payments if p.id == str(payment_id) and p.refundable_cents > 0), None)
        form = parse_form(refund_schema(prefix), request.form)
        amount = _cents(form, amount_field)
        if payment is None:
            form.error("_form", NO_PAYMENT)
        elif amount is None and amount_field not in form.errors:
            form.error(amount_field, AMOUNT_SENTENCES[AmountProblem.FORMAT])
        elif amount is not None and amount <= 0:
            form.error(amount_field, AMOUNT_SENTENCES[AmountProblem.RANGE])
        elif amount is not None and amount > payment.refundable_cents:
            left = format_money(payment.refundable_cents, payment.currency)
            form.errors.setdefault(amount_field, gettext(OVER_REFUNDABLE, left=left))
        if form.ok and payment is not None and amount is not None:
            try:
                patient_billing.refund_payment(
                    apis(),
                    signed_in(),
                    patient_billing.Refund(
                        payment_id=payment.id,
                        amount_cents=amount,
                        reason=str(form.data[f"{prefix}_reason"]),
                        idempotency_key=request.form.get(IDEMPOTENCY_FIELD) or str(uuid.uuid4()),
                    ),
                )
            except ApiError as error:
                if error.status not in (404, 409, 422):
                    raise
                apply_api_error(
                    form,
                    error,
                    {
                        "amount_cents": (amount_field, NOT_REFUNDED),
                        "reason": (f"{prefix}_reason", REFUND_REASON),
                    },
                    NO_PAYMENT if error.status == 404 else NOT_REFUNDED,
                )
            else:
                money = format_money(amount, payment.currency)
                whole = format_money(payment.amount_cents, payment.currency)
                flash(gettext(REFUNDED, amount=money, payment=whole), "done")
                return redirect(back, 303)
        forms = RefundForms(refund=form, refund_id=str(payment_id))
        return render_patient(patient_id, clinic_id, chose, forms, 422)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=back)
