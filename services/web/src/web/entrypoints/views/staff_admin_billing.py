"""The clinic admin's billing policy page: late-cancellation and no-show fees, taxes, payment terms, and the
clinic's GST/HST registration number.

Admins only (``staff_required("admin")``); billing checks the role and the clinic again on every call. A fee
is a fixed amount (typed as money, sent in cents) or a percentage of the visit's price (typed as "50" or
"12.5", sent in basis points); tax rates are percentages too. Each form is accepted once.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.domain.clinic_setup import (
    MoneyProblem,
    PercentProblem,
    basis_points_as_text,
    cents_as_text,
    parse_basis_points,
    parse_cents,
)
from web.entrypoints.context import apis, signed_in
from web.entrypoints.forms import N_, Form, parse_form
from web.entrypoints.i18n import gettext
from web.entrypoints.views.staff_admin_common import ApiRefusal, ClinicPage, admin_page, once, saved_and_back
from web.service_layer import staff_admin
from web.service_layer.staff_admin import BillingPolicy

bp = Blueprint("staff_admin_billing", __name__, url_prefix="/staff/clinic/billing-policy")

FEE_MODES = ("", "fixed", "percent")
FEES = ("late_cancel", "no_show")
FEE_PROBLEMS: dict[str, dict[MoneyProblem | PercentProblem, str]] = {
    "fixed": {
        MoneyProblem.MISSING: N_("Enter the fee, like 40.00"),
        MoneyProblem.NOT_MONEY: N_("Enter the fee as an amount of money, like 40.00"),
        MoneyProblem.TOO_PRECISE: N_("Enter the fee in dollars and cents, like 40.50"),
        MoneyProblem.TOO_LARGE: N_("Enter a fee of 1,000,000.00 or less"),
    },
    "percent": {
        PercentProblem.MISSING: N_("Enter the fee as a percentage of the visit's price, like 50"),
        PercentProblem.NOT_A_PERCENT: N_("Enter the fee as a percentage, like 50 or 12.5"),
        PercentProblem.TOO_PRECISE: N_("Enter the percentage with at most two decimals, like 12.25"),
        PercentProblem.TOO_LARGE: N_("Enter a percentage of 100 or less"),
    },
}
TAX_PROBLEMS = {
    PercentProblem.MISSING: N_("Enter the tax rate in percent, or 0 for none"),
    PercentProblem.NOT_A_PERCENT: N_("Enter the tax rate as a percentage, like 5 or 13"),
    PercentProblem.TOO_PRECISE: N_("Enter the tax rate with at most two decimals, like 12.5"),
    PercentProblem.TOO_LARGE: N_("Enter a tax rate of 100 or less"),
}
TAXES = ("fee_tax_rate", "treatment_tax_rate")


class PolicyForm(Schema):
    late_cancel_fee_mode = fields.String(load_default="", validate=validate.OneOf(FEE_MODES))
    no_show_fee_mode = fields.String(load_default="", validate=validate.OneOf(FEE_MODES))
    payment_terms_days = fields.Integer(
        required=True,
        strict=False,
        validate=validate.Range(min=0, max=365, error=N_("Enter 0 to 365 days")),
        error_messages={
            "required": N_("Enter how many days patients have to pay, like 30"),
            "invalid": N_("Enter the payment terms as a whole number of days, like 30"),
        },
    )


class RegistrationForm(Schema):
    gst_hst_number = fields.String(load_default="")


def _values(policy: BillingPolicy) -> dict[str, str]:
    values = {"payment_terms_days": str(policy.payment_terms_days)}
    for fee in FEES:
        mode = getattr(policy, f"{fee}_fee_mode") or ""
        amount = int(getattr(policy, f"{fee}_fee_value") or 0)
        values[f"{fee}_fee_mode"] = mode
        if mode == "fixed":
            values[f"{fee}_fee_amount"] = cents_as_text(amount)
        elif mode == "percent":
            values[f"{fee}_fee_amount"] = basis_points_as_text(amount)
    for tax in TAXES:
        values[tax] = basis_points_as_text(int(getattr(policy, f"{tax}_bp")))
    return values


def _read_policy(form: Form) -> BillingPolicy | None:
    """The policy as typed, or None with each mistake put beside its field."""
    facts: dict[str, Any] = {}
    for fee in FEES:
        mode = str(form.values.get(f"{fee}_fee_mode") or "")
        facts[f"{fee}_fee_mode"], facts[f"{fee}_fee_value"] = (mode or None), 0
        if mode not in ("fixed", "percent"):
            continue
        typed = str(form.values.get(f"{fee}_fee_amount") or "")
        value = parse_cents(typed) if mode == "fixed" else parse_basis_points(typed)
        if isinstance(value, int):
            facts[f"{fee}_fee_value"] = value
        else:
            form.error(f"{fee}_fee_amount", FEE_PROBLEMS[mode][value])
    for tax in TAXES:
        rate = parse_basis_points(str(form.values.get(tax) or ""))
        if isinstance(rate, int):
            facts[f"{tax}_bp"] = rate
        else:
            form.error(tax, TAX_PROBLEMS[rate])
    if not form.ok:
        return None
    return BillingPolicy(payment_terms_days=int(form.data["payment_terms_days"]), **facts)


def _page(at: ClinicPage, policy: Form, registration: Form | None = None, status: int = 200) -> Response:
    """The page with both forms; ``form`` (the error summary and the title's "Error: ") is the one sent."""
    if registration is None:
        number = staff_admin.gst_hst_number(apis(), signed_in(), at.id)
        registration = Form(values={"gst_hst_number": number or ""})
    return at.render(
        "staff/admin/billing_policy.html",
        status,
        form=registration if registration.errors else policy,
        policy_form=policy,
        registration=registration,
        modes=[
            ("", gettext("No fee")),
            ("fixed", gettext("A fixed amount")),
            ("percent", gettext("A percentage of the visit's price")),
        ],
    )


@bp.route("", methods=["GET", "POST"])
@admin_page()
def index(at: ClinicPage) -> Response:
    done = at.url(".index")
    if request.method == "GET":
        current = staff_admin.billing_policy(apis(), signed_in(), at.id)
        return _page(at, Form(values=_values(current)))

    def save() -> Response:
        form = parse_form(PolicyForm(), request.form)
        policy = _read_policy(form)
        if form.ok and policy is not None:
            with ApiRefusal(
                form,
                {
                    "late_cancel_fee_value": ("late_cancel_fee_amount", N_("Enter a smaller fee")),
                    "no_show_fee_value": ("no_show_fee_amount", N_("Enter a smaller fee")),
                    "payment_terms_days": ("payment_terms_days", N_("Enter 0 to 365 days")),
                },
                N_("We could not save the billing policy. Try again."),
                statuses=(409, 422),
            ):
                staff_admin.set_billing_policy(apis(), signed_in(), at.id, at.settings.currency, policy)
        if not form.ok:
            return _page(at, form, status=422)
        return saved_and_back(
            gettext("The billing policy is saved. It applies to fees and invoices from now on."), done
        )

    return once(save, done)


@bp.post("/tax-registration")
@admin_page("staff_admin_billing.index")
def tax_registration(at: ClinicPage) -> Response:
    done = at.url(".index")

    def save() -> Response:
        registration = parse_form(RegistrationForm(), request.form)
        typed = str(registration.data.get("gst_hst_number") or "")
        number = None
        with ApiRefusal(
            registration,
            {"gst_hst_number": ("gst_hst_number", N_("Enter the number like 123456789 RT 0001"))},
            N_("We could not save the registration number. Try again."),
        ):
            number = staff_admin.set_gst_hst_number(apis(), signed_in(), at.id, typed or None)
        if not registration.ok:
            current = staff_admin.billing_policy(apis(), signed_in(), at.id)
            return _page(at, Form(values=_values(current)), registration, status=422)
        if number:
            return saved_and_back(gettext("The GST/HST number %(number)s is saved.", number=number), done)
        return saved_and_back(gettext("The clinic has no GST/HST number on file."), done)

    return once(save, done)
