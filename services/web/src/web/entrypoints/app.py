"""The web front's Flask app: sessions, CSRF, languages, security headers, errors, and the page blueprints."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import structlog
from flask import Flask, Response, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from clinic_shared.logging import configure_logging
from clinic_shared.tokens import KeySource, TokenVerifier
from clinic_shared.web.app import trace_requests
from clinic_shared.web.redaction import RedactPathSecrets
from web.adapters.api import ApiError, Apis, ServiceClient, Unavailable
from web.adapters.sessions import RedisStore, ServerSessionInterface, SessionStore, SqliteStore
from web.config import WebSettings
from web.entrypoints import i18n, phones, signin
from web.entrypoints.context import APIS_KEY, VERIFIER_KEY, apis
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, STORE_KEY, new_form_token
from web.entrypoints.views import (
    account,
    appointments,
    booking,
    home,
    invoices,
    preferences,
    privacy,
    staff,
    staff_admin,
    staff_admin_billing,
    staff_admin_people,
    staff_admin_practitioners,
    staff_billing,
    staff_booking,
    staff_practice,
    staff_waitlist,
    staff_week,
)
from web.service_layer import clinic_catalogue

log = structlog.get_logger(__name__)

SECRET_PATH_PREFIXES = ("/reset-password/", "/waitlist/offers/")
STATIC_MAX_AGE = 3600
# Booking's pages that change an existing appointment belong to "My appointments" in the navigation.
CHANGES_TO_AN_APPOINTMENT = {
    "booking.reschedule",
    "booking.reschedule_review",
    "booking.rescheduled",
    "booking.calendar_file",
}
# The patient's areas, in navigation order: (endpoint, label).
PORTAL_AREAS = [
    ("booking.start", N_("Book")),
    ("appointments.index", N_("My appointments")),
    ("invoices.index", N_("Invoices")),
    ("preferences.index", N_("Preferences")),
    ("privacy.index", N_("Your data")),
]
# Staff pages inside an area of the navigation (the week is the Day's, a patient's history the Patients').
STAFF_PAGES_OF_AREA = {"staff_week.week": "staff.day", "staff_practice.patient": "staff.patients"}
# The staff areas, in navigation order: (endpoint, label, roles that see it).
STAFF_AREAS = [
    ("staff.day", N_("Day"), frozenset({"front_desk", "admin", "practitioner"})),
    ("staff.patients", N_("Patients"), frozenset({"front_desk", "admin"})),
    ("staff_waitlist.index", N_("Waitlist"), frozenset({"front_desk", "admin"})),
    ("staff_billing.queue", N_("Billing"), frozenset({"billing", "admin"})),
    ("staff_admin.index", N_("Clinic"), frozenset({"admin"})),
]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def create_app(
    settings: WebSettings | None = None,
    *,
    apis: Apis | None = None,
    store: SessionStore | None = None,
    verifier: TokenVerifier | None = None,
) -> Flask:
    """Build the app; gunicorn calls this in each worker after fork, so HTTP pools are per process."""
    settings = settings or WebSettings.from_env()
    configure_logging("web", settings.log_level)
    app = Flask(__name__)
    trace_requests(app)  # first: a later before_request hook (CSRF, sign-in) may end the request
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="ims_session",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it belongs to
        WTF_CSRF_SSL_STRICT=settings.secure_cookies,
        SEND_FILE_MAX_AGE_DEFAULT=STATIC_MAX_AGE,
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    store = store or (
        RedisStore(settings.redis_url) if settings.redis_url else SqliteStore(settings.session_file)
    )
    app.session_interface = ServerSessionInterface(store, settings.session_hours * 3600)
    app.extensions[STORE_KEY] = store
    app.extensions[APIS_KEY] = apis or Apis(
        scheduling=ServiceClient("scheduling", settings.scheduling_url, timeout=settings.api_timeout_seconds),
        billing=ServiceClient("billing", settings.billing_url, timeout=settings.api_timeout_seconds),
        notifications=ServiceClient(
            "notifications", settings.notifications_url, timeout=settings.api_timeout_seconds
        ),
    )
    app.extensions[VERIFIER_KEY] = verifier or TokenVerifier(
        KeySource(url=f"{settings.scheduling_url}/.well-known/jwks.json"),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    CSRFProtect(app)
    i18n.install(i18n.load_catalogues())
    _install_templates(app)
    _install_request_hooks(app)
    _install_error_pages(app)
    portal = (home, account, booking, appointments, invoices, preferences, privacy)
    people = (staff_admin_people, staff_admin_practitioners, staff_admin_billing)
    practice = (staff_practice, staff_week)
    for module in (
        *portal,
        staff,
        staff_booking,
        staff_waitlist,
        staff_billing,
        staff_admin,
        *people,
        *practice,
    ):
        app.register_blueprint(module.bp)
    app.wsgi_app = RedactPathSecrets(app.wsgi_app, SECRET_PATH_PREFIXES)  # type: ignore[method-assign]
    return app


def _install_templates(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    app.jinja_env.globals.update(
        current_language=i18n.current_language,
        languages=i18n.LANGUAGES,
        new_form_token=new_form_token,
        form_token_field=FORM_TOKEN_FIELD,
        url_with_language=_url_with_language,
        countries_options=_countries_options,
    )

    @app.context_processor
    def _portal_links() -> dict[str, Any]:
        # Areas appear in the navigation as their blueprints are registered; staff see only theirs.
        endpoint = request.endpoint or ""
        here: str | None
        signed = g.get("credentials")
        if signed is not None and signed.is_staff:
            roles = set(signed.roles)
            links = [(e, label, e) for e, label, allowed in STAFF_AREAS if allowed & roles]
            here = STAFF_PAGES_OF_AREA.get(endpoint, endpoint)
        else:
            links = [(e, label, e.split(".")[0]) for e, label in PORTAL_AREAS]
            here = "appointments" if endpoint in CHANGES_TO_AN_APPOINTMENT else request.blueprint
        return {
            "portal_links": [link for link in links if link[0] in app.view_functions],
            "current_area": here,
            "help_clinic": _help_clinic(),
            # The footer's "call your clinic" line is the patient's; staff are the clinic.
            "staff_page": signed is not None and signed.is_staff,
        }

    app.jinja_env.filters.update(
        when=i18n.format_when,
        day=i18n.format_day,
        long_day=i18n.format_long_day,
        clock=i18n.format_clock,
        hm=i18n.format_hm,
        zone_name=i18n.format_zone,
        money=i18n.format_money,
        phone=phones.readable,
    )


def _help_clinic() -> clinic_catalogue.Clinic | None:
    """The clinic to call for help, named in every page's footer once the patient is signed in."""
    signed = g.get("credentials")
    if signed is None or signed.is_staff:  # staff are the clinic; the list they see is theirs alone
        return None
    try:
        places = clinic_catalogue.clinics(apis(), signed)
    except (ApiError, Unavailable):
        return None
    return places[0] if len(places) == 1 else None


def _countries_options(countries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    names = i18n.locale().territories
    return [(code, f"{names.get(code, code)} ({prefix})") for code, prefix in countries]


def _url_with_language(language: str) -> str:
    args = request.args.to_dict() | {"lang": language}
    return url_for(request.endpoint or "home.index", **(request.view_args or {}), **args)


def _install_request_hooks(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.started = time.perf_counter()

    @app.before_request
    def _language_and_credentials() -> Response | None:
        chosen = request.args.get("lang")
        if chosen in i18n.LANGUAGES and request.method == "GET":
            # The switch keeps the page: same URL, same arguments, other language.
            session["language"] = chosen
            args = request.args.to_dict()
            args.pop("lang")
            return redirect(url_for(request.endpoint or "home.index", **(request.view_args or {}), **args))
        g.credentials = None if request.endpoint == "static" else signin.current()
        return None

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        # Reset links carry their token in the path: never hand a URL to another site.
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        if "language" in g:
            headers.setdefault("Content-Language", g.language)
        if "started" in g:
            # The page's own time, API calls included (make bench reads it; so can browser dev tools).
            headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.started) * 1000:.1f}"
        return response


def _install_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        return render_template("errors/expired_form.html"), 400

    @app.errorhandler(Unavailable)
    def _unavailable(error: Unavailable) -> tuple[str, int]:
        log.warning(
            "service unavailable", service=error.service, path=request.url_rule and request.url_rule.rule
        )
        return render_template("errors/unavailable.html"), 503

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Any:
        if error.status == 401:
            signin.forget()
            return redirect(url_for("account.login", next=request.full_path), 303)
        if error.status in (403, 404):
            return render_template("errors/not_found.html"), 404
        log.error("api error", status=error.status, title=error.title, rule=_rule())
        return render_template("errors/server_error.html"), 502

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        if error.code == 404:
            return render_template("errors/not_found.html"), 404
        return render_template("errors/generic.html", error=error), error.code or 500

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unhandled error", rule=_rule())
        return render_template("errors/server_error.html"), 500

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, Any], int]:
        checks = {}
        for name in ("scheduling", "billing", "notifications"):
            try:
                getattr(apis(), name).request("GET", "/healthz")
                checks[name] = "ok"
            except (ApiError, Unavailable):
                checks[name] = "unavailable"
        ready = all(value == "ok" for value in checks.values())
        return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


def _rule() -> str | None:
    return request.url_rule.rule if request.url_rule else None
