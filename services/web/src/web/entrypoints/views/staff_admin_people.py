"""The clinic admin's staff page: the clinic's logins, adding one, disabling and enabling them.

Admins only (``staff_required("admin")``); scheduling checks the role and the clinic again on every call. A
new login gets a password nobody is told: its holder sets their own with "Forgot your password?". An admin
cannot disable their own login (scheduling refuses it too). Each form is accepted once.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, request
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.adapters.api import ApiError
from web.entrypoints.context import apis, signed_in
from web.entrypoints.forms import N_, Form, parse_form
from web.entrypoints.i18n import gettext
from web.entrypoints.views.staff_admin_common import ApiRefusal, ClinicPage, admin_page, once, saved_and_back
from web.service_layer import staff_admin_people as people
from web.service_layer.staff_admin_people import STAFF_ROLES

bp = Blueprint("staff_admin_people", __name__, url_prefix="/staff/clinic")

ROLE_NAMES = {
    "front_desk": N_("Front desk"),
    "billing": N_("Billing"),
    "practitioner": N_("Practitioner"),
    "admin": N_("Admin"),
}
ROLE_HINTS = {
    "front_desk": N_("Books and checks in patients, keeps the patient list"),
    "billing": N_("Invoices, payments and reports"),
    "practitioner": N_("Sees their own day and records assessments"),
    "admin": N_("Sets up the clinic and its staff"),
}
EMAIL_FORMAT = N_("Enter an e-mail address in the correct format, like name@example.com")


def role_field(role: str) -> str:
    """The checkbox of a role ('role-front_desk'); the first one is the roles' error anchor."""
    return f"role-{role}"


class StaffForm(Schema):
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254, error=EMAIL_FORMAT),
        error_messages={"required": N_("Enter the staff member's e-mail address"), "invalid": EMAIL_FORMAT},
    )
    practitioner_id = fields.String(load_default="")


@bp.route("/staff", methods=["GET", "POST"])
@admin_page()
def staff(at: ClinicPage) -> Response:
    done = at.url(".staff")
    me = signed_in().account_id
    practitioners = people.practitioners(apis(), signed_in(), at.id)
    names = {p.id: p.name for p in practitioners}

    def page(form: Form, status: int = 200) -> Response:
        return at.render(
            "staff/admin/staff.html",
            status,
            form=form,
            rows=people.staff(apis(), signed_in(), at.id),
            me=me,
            practitioner_names=names,
            practitioner_options=[("", gettext("None"))] + [(p.id, p.name) for p in practitioners],
            roles=[(role, role_field(role), ROLE_NAMES[role], ROLE_HINTS[role]) for role in STAFF_ROLES],
            role_names=ROLE_NAMES,
        )

    if request.method == "GET":
        return page(Form())

    def add() -> Response:
        form = parse_form(StaffForm(), request.form)
        roles = [role for role in STAFF_ROLES if request.form.get(role_field(role)) in ("true", "on")]
        if not roles:
            form.error(role_field(STAFF_ROLES[0]), N_("Choose at least one role"))
        linked = str(form.values.get("practitioner_id") or "")
        if linked and linked not in names:
            form.error("practitioner_id", N_("Choose a practitioner of this clinic, or “None”"))
        elif "practitioner" in roles and not linked:
            if names:
                form.error("practitioner_id", N_("Choose which practitioner this person is"))
            else:
                form.error("practitioner_id", N_("Add the practitioner on the Practitioners page first"))
        elif linked and "practitioner" not in roles:
            form.error("practitioner_id", N_("Choose “None”, or tick “Practitioner” too"))
        if form.ok:
            with ApiRefusal(
                form,
                lambda error: {
                    "email": (
                        "email",
                        N_("A staff member or patient already uses this e-mail address")
                        if error.status == 409
                        else EMAIL_FORMAT,
                    ),
                    "roles": (role_field(STAFF_ROLES[0]), N_("Choose at least one role")),
                    "practitioner_id": (
                        "practitioner_id",
                        N_("Choose a practitioner of this clinic, or “None”"),
                    ),
                },
                N_("We could not add this staff member. Try again."),
                statuses=(404, 409, 422),
                unless=lambda error: "clinic_id" in error.fields,
            ):
                created = people.add_staff(
                    apis(),
                    signed_in(),
                    at.id,
                    email=form.data["email"],
                    roles=roles,
                    practitioner_id=linked or None,
                )
        if not form.ok:
            return page(form, 422)
        notice = gettext(
            "%(email)s is added. To sign in, they first set a password: ask them to use “Forgot "
            "your password?” on the sign-in page with this e-mail address.",
            email=created.email,
        )
        return saved_and_back(notice, done)

    return once(add, done)


@bp.post("/staff/<uuid:account_id>/<any(disable, enable):action>")
@admin_page("staff_admin_people.staff")
def change_staff(at: ClinicPage, account_id: uuid.UUID, action: str) -> Response:
    done = at.url(".staff")

    def change() -> Response:
        if str(account_id) == signed_in().account_id:
            return saved_and_back(gettext("You cannot disable your own account."), done)
        try:
            row = people.set_staff_active(apis(), signed_in(), str(account_id), active=action == "enable")
        except ApiError as error:
            if error.status != 404:
                raise
            abort(404)
        if row.active:
            return saved_and_back(gettext("%(email)s can sign in again.", email=row.email), done)
        return saved_and_back(gettext("%(email)s is disabled: they cannot sign in.", email=row.email), done)

    return once(change, done)
