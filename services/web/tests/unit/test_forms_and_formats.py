"""Form parsing, API errors placed on fields, phone numbers, and dates/money the way people read them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask, session
from marshmallow import Schema, fields

from web.entrypoints import i18n
from web.entrypoints.forms import N_, apply_api_error, parse_form
from web.entrypoints.phones import e164
from web.entrypoints.views.account import _safe_next
from web.service_layer.ports import ApiError


class Example(Schema):
    name = fields.String(required=True, error_messages={"required": N_("Enter your first name")})
    age = fields.Integer(load_default=None)


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "x" * 32
    i18n.install(i18n.load_catalogues())
    return app


def test_blank_fields_are_missing_and_say_what_to_do(app: Flask) -> None:
    with app.test_request_context("/"):
        form = parse_form(Example(), {"name": "   ", "age": ""})
    assert form.errors == {"name": "Enter your first name"}
    assert form.values["name"] == ""


def test_errors_are_translated_when_shown(app: Flask) -> None:
    with app.test_request_context("/"):
        session["language"] = "fr"
        form = parse_form(Example(), {})
    assert form.errors == {"name": "Entrez votre prénom"}


def test_values_are_kept_and_converted(app: Flask) -> None:
    with app.test_request_context("/"):
        form = parse_form(Example(), {"name": " Ann ", "age": "40", "csrf_token": "t"})
    assert form.ok
    assert form.data == {"name": "Ann", "age": 40}
    assert "csrf_token" not in form.values


def test_an_api_error_lands_on_the_field_it_names_in_the_page_s_words(app: Flask) -> None:
    error = ApiError(409, "Conflict", "exists", fields={"email": "an account with this email already exists"})
    with app.test_request_context("/"):
        form = parse_form(Example(), {"name": "Ann"})
        apply_api_error(form, error, {"email": ("email", N_("Enter your e-mail address"))}, N_("Fallback"))
    assert form.errors == {"email": "Enter your e-mail address"}


def test_an_api_error_on_an_unknown_field_is_said_at_the_top(app: Flask) -> None:
    with app.test_request_context("/"):
        form = parse_form(Example(), {"name": "Ann"})
        apply_api_error(form, ApiError(422, fields={"x": "bad"}), {}, N_("Enter your first name"))
    assert form.errors == {"_form": "Enter your first name"}


@pytest.mark.parametrize(
    ("typed", "country", "expected"),
    [
        ("604 555 0123", "CA", "+16045550123"),
        ("(604) 555-0123", "CA", "+16045550123"),
        ("+33 6 12 34 56 78", "CA", "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("12", "CA", None),
        ("not a number", "CA", None),
    ],
)
def test_phone_numbers_as_typed_become_e164(typed: str, country: str, expected: str | None) -> None:
    assert e164(typed, country) == expected


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/appointments?x=1", "/appointments?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        (None, "/"),
    ],
)
def test_only_local_paths_follow_sign_in(app: Flask, target: str | None, safe: str) -> None:
    app.add_url_rule("/", "home.index", lambda: "")
    with app.test_request_context("/"):
        assert _safe_next(target) == safe


WINTER = "2026-12-07T18:00:00+00:00"
VANCOUVER = "America/Vancouver"


def plain(text: str) -> str:
    """Babel writes narrow and ordinary no-break spaces, as typographers do; compare with plain ones."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_times_are_shown_in_the_clinic_zone_with_its_name_winter_and_summer(app: Flask) -> None:
    with app.test_request_context("/"):
        assert plain(i18n.format_when(WINTER, VANCOUVER)) == "Mon, Dec 7, 10:00 a.m. PST"
        summer = datetime(2026, 7, 6, 17, 0, tzinfo=UTC)
        assert plain(i18n.format_when(summer, VANCOUVER)) == "Mon, Jul 6, 10:00 a.m. PDT"
    with app.test_request_context("/", headers={"Accept-Language": "fr-CA"}):
        assert plain(i18n.format_when(WINTER, VANCOUVER)) == "lun. 7 déc., 10 h 00 HNP"


def test_money_is_integer_cents_written_the_reader_s_way(app: Flask) -> None:
    with app.test_request_context("/"):
        assert i18n.format_money(4000, "CAD") == "$40.00"
        assert i18n.format_money(1, "CAD") == "$0.01"
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert plain(i18n.format_money(123456, "CAD")) == "1 234,56 $"
