"""Preferences: messages by e-mail and by text, the language, promotional e-mail, and a one-click stop to
text messages. Each save is a POST answered by a redirect to the page with a notice."""

from __future__ import annotations

import phonenumbers
from flask import Blueprint, redirect, render_template, request, session, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.domain.preferences import chosen
from web.entrypoints.context import apis, patient_required, signed_in
from web.entrypoints.forms import N_, Form, parse_form
from web.entrypoints.i18n import LANGUAGES
from web.service_layer import preferences

bp = Blueprint("preferences", __name__)

PENDING_CONSENT = "pending_consent"  # set by account.signup: {"email": bool, "sms": bool}


class PreferencesForm(Schema):
    email = fields.Boolean(load_default=False)
    sms = fields.Boolean(load_default=None)
    language = fields.String(
        required=True,
        validate=validate.OneOf(LANGUAGES, error=N_("Choose English or French")),
        error_messages={"required": N_("Choose English or French")},
    )
    promotional = fields.Boolean(load_default=False)


def apply_pending_consent() -> None:
    """Record the consent given at sign-up, once (any signed-in page may call this)."""
    if PENDING_CONSENT in session and preferences.apply_pending_consent(
        apis(), signed_in(), session[PENDING_CONSENT]
    ):
        session.pop(PENDING_CONSENT, None)


@bp.get("/preferences")
@patient_required
def index() -> str:
    apply_pending_consent()
    loaded = preferences.load(apis(), signed_in())
    if loaded is None:
        return render_template("preferences/index.html", loaded=None, form=Form())
    choices = loaded.preferences.choices
    form = Form(
        values={
            "email": choices.email,
            "sms": choices.sms,
            "language": choices.language,
            "promotional": choices.promotional,
        }
    )
    return _page(loaded, form)


@bp.post("/preferences")
@patient_required
def save() -> Response | str:
    apply_pending_consent()
    loaded = preferences.load(apis(), signed_in())
    if loaded is None:
        return render_template("preferences/index.html", loaded=None, form=Form())
    form = parse_form(PreferencesForm(), request.form)
    if not form.ok:
        return _page(loaded, form)
    current = loaded.preferences
    new = chosen(
        current,
        email=form.data["email"],
        # Without a mobile number the page shows no SMS box: the SMS choice is left as it was.
        sms=bool(form.data["sms"]) if current.has_mobile else None,
        language=form.data["language"],
        promotional=form.data["promotional"],
    )
    preferences.save(apis(), signed_in(), current, new)
    session["language"] = new.language  # the portal speaks the patient's language too
    return redirect(url_for("preferences.index", saved="1"), 303)


@bp.post("/preferences/stop-texts")
@patient_required
def stop_texts() -> Response | str:
    if not preferences.stop_texts(apis(), signed_in()):
        return render_template("preferences/index.html", loaded=None, form=Form())
    return redirect(url_for("preferences.index", saved="texts"), 303)


def _page(loaded: preferences.Loaded, form: Form) -> str:
    return render_template(
        "preferences/index.html",
        loaded=loaded,
        prefs=loaded.preferences,
        phone=_readable(loaded.phone),
        form=form,
        saved=request.args.get("saved"),
    )


def _readable(phone: str | None) -> str | None:
    """'+16045550142' -> '+1 604-555-0142'."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
