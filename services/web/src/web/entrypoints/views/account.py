"""Signing in and out, signing up, and resetting a forgotten password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.adapters.api import ApiError
from web.entrypoints import signin
from web.entrypoints.context import apis, credentials, verifier
from web.entrypoints.forms import N_, Form, apply_api_error, parse_form
from web.entrypoints.i18n import LANGUAGES, current_language
from web.entrypoints.phones import COUNTRIES, e164
from web.entrypoints.views.preferences import PENDING_CONSENT
from web.service_layer import accounts, preferences

bp = Blueprint("account", __name__)

MIN_PASSWORD = 10


class SignInForm(Schema):
    email = fields.String(required=True, error_messages={"required": N_("Enter your e-mail address")})
    password = fields.String(required=True, error_messages={"required": N_("Enter your password")})


class SignUpForm(Schema):
    first_name = fields.String(
        required=True,
        validate=validate.Length(max=100, error=N_("First name must be 100 characters or fewer")),
        error_messages={"required": N_("Enter your first name")},
    )
    last_name = fields.String(
        required=True,
        validate=validate.Length(max=100, error=N_("Last name must be 100 characters or fewer")),
        error_messages={"required": N_("Enter your last name")},
    )
    email = fields.Email(
        required=True,
        error_messages={
            "required": N_("Enter your e-mail address"),
            "invalid": N_("Enter an e-mail address like name@example.com"),
        },
    )
    country = fields.String(load_default="CA", validate=validate.OneOf([code for code, _ in COUNTRIES]))
    phone = fields.String(load_default=None)
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))
    password = fields.String(
        required=True,
        validate=validate.Length(
            min=MIN_PASSWORD, max=200, error=N_("Your password must be at least 10 characters long")
        ),
        error_messages={"required": N_("Choose a password")},
    )
    email_consent = fields.Boolean(load_default=False)
    sms_consent = fields.Boolean(load_default=False)


class ForgotForm(Schema):
    email = fields.Email(
        required=True,
        error_messages={
            "required": N_("Enter your e-mail address"),
            "invalid": N_("Enter an e-mail address like name@example.com"),
        },
    )


class ResetForm(Schema):
    password = fields.String(
        required=True,
        validate=validate.Length(
            min=MIN_PASSWORD, max=200, error=N_("Your password must be at least 10 characters long")
        ),
        error_messages={"required": N_("Choose a new password")},
    )


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never '//elsewhere' or 'https://elsewhere') may follow sign-in."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    next_url = request.values.get("next")
    if request.method == "GET":
        if credentials() is not None:
            return redirect(_safe_next(next_url))
        return render_template(
            "account/login.html",
            form=Form(),
            next_url=next_url,
            ended=g.get("session_ended") or bool(request.args.get("ended")),
        )
    form = parse_form(SignInForm(), request.form)
    if form.ok:
        try:
            signed = accounts.sign_in(apis(), verifier(), form.data["email"], form.data["password"])
        except accounts.SignInFailed:
            form.error("email", N_("The e-mail address or password is not right"))
        except accounts.SignInPaused:
            form.error(
                "email",
                N_(
                    "Too many wrong passwords: signing in is paused for this address for up to 15 minutes. "
                    "To sign in now, reset your password."
                ),
            )
        else:
            signin.remember(signed)
            if "language" not in session:  # a language picked on this visit wins over the registered one
                language = accounts.registered_language(apis(), signed)
                if language in LANGUAGES:
                    session["language"] = language
            return redirect(_safe_next(next_url), 303)
    form.values.pop("password", None)
    return render_template("account/login.html", form=form, next_url=next_url), 200


@bp.post("/logout")
def logout() -> Response:
    signed = credentials()
    if signed is not None:
        accounts.sign_out(apis(), signed)
    signin.forget()
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    return redirect(url_for("account.login", signed_out=1), 303)


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Response | str:
    if request.method == "GET":
        return render_template(
            "account/signup.html",
            form=Form(values={"language": current_language(), "country": "CA"}),
            countries=COUNTRIES,
        )
    form = parse_form(SignUpForm(), request.form)
    phone = None
    if form.ok and form.data.get("phone"):
        phone = e164(form.data["phone"], form.data["country"])
        if phone is None:
            form.error("phone", N_("Enter a phone number like 604 555 0123"))
    if form.ok and form.data["sms_consent"] and not phone:
        form.error("phone", N_("Enter a mobile number to get text messages"))
    if form.ok:
        try:
            accounts.sign_up(
                apis(),
                accounts.SignUp(
                    first_name=form.data["first_name"],
                    last_name=form.data["last_name"],
                    email=form.data["email"],
                    phone=phone,
                    language=form.data["language"],
                    password=form.data["password"],
                    sms_consent=form.data["sms_consent"],
                    email_consent=form.data["email_consent"],
                ),
            )
        except accounts.SignUpPaused:
            form.error(
                "email",
                N_("Too many sign-ups from your network in the last few minutes. Try again in 15 minutes."),
            )
        except ApiError as error:
            if error.status not in (400, 422):
                raise
            apply_api_error(
                form,
                error,
                {
                    "email": ("email", N_("Enter an e-mail address like name@example.com")),
                    "password": ("password", N_("Choose a different password")),
                    "phone": ("phone", N_("Enter a phone number like 604 555 0123")),
                    "first_name": ("first_name", N_("Enter your first name")),
                    "last_name": ("last_name", N_("Enter your last name")),
                },
                N_("We could not create your account. Check the details below."),
            )
        else:
            # Kept for when the link is opened in this browser (the preferences page asks otherwise).
            session["language"] = form.data["language"]
            session[PENDING_CONSENT] = {"email": form.data["email_consent"], "sms": form.data["sms_consent"]}
            return render_template("account/signup_sent.html", email=form.data["email"])
    form.values.pop("password", None)
    return render_template("account/signup.html", form=form, countries=COUNTRIES)


@bp.route("/sign-up/confirm/<token>", methods=["GET", "POST"])
def confirm_sign_up(token: str) -> Response | str | tuple[str, int]:
    """The e-mailed link: a button opens the account (a mail scanner fetching the link opens nothing)."""
    if request.method == "GET":
        return render_template("account/confirm.html", token=token)
    try:
        signed = accounts.confirm_sign_up(apis(), verifier(), token)
    except accounts.LinkExpired:
        return render_template("account/confirm_expired.html"), 410
    signin.remember(signed)
    consent = session.get(PENDING_CONSENT)
    if consent is None:  # signed up in another browser: the choices were not kept here
        return redirect(url_for("home.index", welcome="contact"), 303)
    if preferences.apply_pending_consent(apis(), signed, consent):
        session.pop(PENDING_CONSENT, None)  # else the preferences page tries again
    return redirect(url_for("home.index", welcome=1), 303)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> Response | str:
    if request.method == "GET":
        return render_template("account/forgot.html", form=Form())
    form = parse_form(ForgotForm(), request.form)
    if not form.ok:
        return render_template("account/forgot.html", form=form)
    accounts.request_password_reset(apis(), form.data["email"])
    # The same answer whether or not the address has an account: nobody learns who is a patient here.
    return render_template("account/forgot_sent.html", email=form.data["email"])


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | str:
    if request.method == "GET":
        return render_template("account/reset.html", form=Form(), token=token)
    form = parse_form(ResetForm(), request.form)
    if form.ok:
        try:
            accounts.reset_password(apis(), token, form.data["password"])
        except ApiError as error:
            if error.status not in (400, 404, 409, 410, 422):
                raise
            if "password" in error.fields:
                form.error("password", N_("Choose a different password"))
            else:
                return render_template("account/reset_expired.html"), 410
        else:
            signin.forget()
            return redirect(url_for("account.login", reset=1), 303)
    return render_template("account/reset.html", form=form, token=token)
