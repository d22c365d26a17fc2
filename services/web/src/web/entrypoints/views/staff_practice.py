"""Staff pages of a practitioner's work: record IMS suitability and consent after an assessment (offered from
the assessment's block on the Day view), and a patient's history at the clinic with, for those billing lets
in, their coverages, packages and credit (whose forms are in ``staff_patient_billing``).

Roles are checked here (``staff_required``) and again by scheduling and billing on every call; the page offers
a form only where the service would accept it (``staff_practice.may_record_suitability``,
``patient_billing.may_see_billing``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Blueprint, flash, get_flashed_messages, redirect, render_template, request, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, apply_api_error, parse_form, submit_once
from web.entrypoints.i18n import gettext
from web.entrypoints.views.staff import GONE, clinic_for
from web.service_layer import patient_billing, staff_practice
from web.service_layer.ports import ApiError
from web.service_layer.staff_billing import BILLING_ROLES
from web.service_layer.staff_booking import DESK_ROLES as BOOKING_ROLES
from web.service_layer.staff_day import Refused
from web.service_layer.staff_practice import HISTORY_ROLES, SUITABILITY_ROLES

bp = Blueprint("staff_practice", __name__, url_prefix="/staff")

RECORDED = N_("IMS suitability for %(patient)s is recorded.")
NOT_OFFERED = N_(
    "Suitability is recorded by the assessing practitioner, on an assessment that has been completed."
)
CHOOSE = N_("Select whether IMS is suitable for the patient")
CONSENT = N_("Confirm the patient gave consent before clearing them for IMS")


class SuitabilityForm(Schema):
    suitable = fields.String(
        required=True,
        validate=validate.OneOf(["yes", "no"], error=CHOOSE),
        error_messages={"required": CHOOSE},
    )
    consent_recorded = fields.Boolean(load_default=False)


@dataclass
class BillingForms:
    """The billing forms of the patient's page as sent back: one of them failed (``failed``)."""

    coverage: Form = field(default_factory=Form)
    end: Form = field(default_factory=Form)
    end_id: str | None = None  # the coverage whose end form ``end`` is
    end_wrong: tuple[str, ...] = ()  # the date parts to highlight
    credit: Form = field(default_factory=Form)
    package: Form = field(default_factory=Form)
    wrong: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the add forms' date parts in error

    @property
    def blank(self) -> Form:
        return Form()

    @property
    def failed(self) -> Form | None:
        forms = (self.coverage, self.end, self.credit, self.package)
        return next((form for form in forms if form.errors), None)


def _now() -> datetime:
    return datetime.now(UTC)


def _block_url(found: staff_practice.Assessment) -> str:
    """The assessment's block on its day (organisation-wide staff: in its clinic)."""
    keep = {} if signed_in().clinic_id else {"clinic": found.clinic_id}
    day = found.starts_at.astimezone(found.zone).date().isoformat()
    return url_for("staff.day", date=day, **keep) + f"#appt-{found.id}"


@bp.route("/appointments/<uuid:appointment_id>/suitability", methods=["GET", "POST"])
@staff_required(*SUITABILITY_ROLES)
def suitability(appointment_id: uuid.UUID) -> Response | str | tuple[str, int]:
    """One form: is IMS suitable for the patient, and did they consent?"""
    try:
        found = staff_practice.assessment(apis(), signed_in(), str(appointment_id), gettext("Patient"))
    except Refused:
        flash(gettext(GONE), f"refused:{appointment_id}")
        return redirect(url_for("staff.day"), 303)
    back = _block_url(found)
    if not staff_practice.may_record_suitability(signed_in())(found.as_booking()):
        flash(gettext(NOT_OFFERED), f"refused:{appointment_id}")
        return redirect(back, 303)
    form = Form()
    if request.method == "POST":
        form = parse_form(SuitabilityForm(), request.form)
        if form.ok and form.data["suitable"] == "yes" and not form.data["consent_recorded"]:
            form.error("consent_recorded", CONSENT)
        if form.ok:
            return submit_once(
                request.form.get(FORM_TOKEN_FIELD), lambda: _record(found, form, back), already_done=back
            )
    page = render_template("staff/practice/suitability.html", found=found, form=form, back=back)
    return (page, 422) if form.errors else page


def _record(found: staff_practice.Assessment, form: Form, back: str) -> Response:
    try:
        staff_practice.record_suitability(
            apis(),
            signed_in(),
            found.id,
            suitable=form.data["suitable"] == "yes",
            consent_recorded=bool(form.data["consent_recorded"]),
        )
    except ApiError as error:
        if error.status not in (403, 409, 422):
            raise
        if error.status == 409:
            form.error("suitable", N_("Suitability is already recorded for this assessment."))
        elif error.status == 403:
            form.error("_form", NOT_OFFERED)
        else:
            apply_api_error(
                form,
                error,
                {"consent_recorded": ("consent_recorded", CONSENT), "suitable": ("suitable", CHOOSE)},
                NOT_OFFERED,
            )
        page = render_template("staff/practice/suitability.html", found=found, form=form, back=back)
        return Response(page, 422, content_type="text/html; charset=utf-8")
    flash(gettext(RECORDED, patient=found.patient), "done")
    return redirect(back, 303)


@bp.get("/patients/<uuid:patient_id>")
@staff_required(*HISTORY_ROLES)
def patient(patient_id: uuid.UUID) -> Response | str:
    """The patient's appointments past and upcoming, plans with their progress and, for billing staff and
    the front desk, their coverages, packages and credit at the clinic."""
    clinic_id, choices = clinic_for(request.args.get("clinic"))
    if clinic_id is None:
        return render_template("staff/choose_clinic.html", clinics=choices)
    return render_patient(patient_id, clinic_id, bool(choices))


def render_patient(
    patient_id: uuid.UUID,
    clinic_id: str,
    chose_clinic: bool,
    forms: BillingForms | None = None,
    status: int = 200,
) -> Response:
    """The patient's page; ``forms``: a billing form sent back with its errors (``status`` 422)."""
    found = patient_billing.patient_page(apis(), signed_in(), clinic_id, str(patient_id), _now())
    forms = forms or BillingForms()
    page = render_template(
        "staff/practice/patient.html",
        history=found.history,
        billing=found.billing,
        forms=forms,
        form=forms.failed or Form(),
        done=get_flashed_messages(category_filter=["done"]),
        idempotency_key=str(uuid.uuid4()),
        can_take_payments=bool(BILLING_ROLES & set(signed_in().roles)),
        keep={"clinic": clinic_id} if chose_clinic else {},
        can_book=bool(BOOKING_ROLES & set(signed_in().roles)),
        can_list=bool(BOOKING_ROLES & set(signed_in().roles)),
    )
    return Response(page, status if found.history.known else 404, content_type="text/html; charset=utf-8")


# The billing forms of the patient's page join this blueprint (a module of their own, for size).
from web.entrypoints.views import staff_patient_billing  # noqa: E402, F401
