"""Hostile bodies end in a 4xx problem naming the field, never a 500: depth, NUL characters, size."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema, fields

from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.web.app import create_service_app
from clinic_shared.web.auth import public
from clinic_shared.web.request_limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, Blueprint


class ReminderSchema(Schema):
    at = fields.AwareDateTime(required=True)
    minutes = fields.List(fields.Integer(), load_default=list)


class NoteSchema(Schema):
    text = fields.String(required=True)
    tags = fields.List(fields.Raw(), load_default=list)
    pinned = fields.Boolean(load_default=False)
    weight = fields.Integer(load_default=0)
    author = fields.Email(load_default=None)
    due = fields.Date(load_default=None)
    reminders = fields.List(fields.Nested(ReminderSchema), load_default=list)


class PageSchema(Schema):
    since = fields.Date(load_default=None)


@pytest.fixture
def app() -> Flask:
    app, api = create_service_app(
        __name__, title="t", version="1", verifier=TestIssuer().verifier(), readiness={}
    )
    blp = Blueprint("notes", __name__)

    @blp.route("/notes", methods=["POST"])
    @blp.arguments(NoteSchema())
    @public
    def post_note(body: dict[str, Any]) -> dict[str, Any]:
        return {"saved": body["text"]}

    @blp.route("/notes", methods=["GET"])
    @blp.arguments(PageSchema(), location="query")
    @blp.paginate()
    @public
    def list_notes(query: dict[str, Any], pagination_parameters: Any) -> list[str]:
        pagination_parameters.item_count = 0
        return []

    api.register_blueprint(blp)
    return app


def post(app: Flask, body: bytes) -> Any:
    return app.test_client().post("/notes", data=body, headers={"Content-Type": "application/json"})


def nested(levels: int) -> bytes:
    return ("[" * levels + "]" * levels).encode()


def test_an_ordinary_body_passes(app: Flask) -> None:
    response = post(app, json.dumps({"text": "hello", "tags": [[1], {"a": [2]}]}).encode())
    assert response.status_code == 200
    assert response.json == {"saved": "hello"}


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deeply_nested_json_is_a_400_problem(app: Flask, levels: int) -> None:
    response = post(app, b'{"text": "x", "tags": ' + nested(levels) + b"}")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert "nested" in response.json["invalid-params"][0]["reason"]


def test_a_nul_character_is_a_422_naming_the_field(app: Flask) -> None:
    response = post(app, json.dumps({"text": "a\u0000b"}).encode())
    assert response.status_code == 422
    assert response.json["invalid-params"][0]["name"] == "text"
    nested_nul = post(app, json.dumps({"text": "ok", "tags": ["fine", {"deep": "x\u0000"}]}).encode())
    assert nested_nul.status_code == 422
    assert nested_nul.json["invalid-params"][0]["name"] == "tags.1.deep"


def test_a_body_over_the_limit_is_a_413_problem_before_it_is_read(app: Flask) -> None:
    response = post(app, b'{"text": "' + b"x" * MAX_BODY_BYTES + b'"}')
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"


def reasons(response: Any) -> dict[str, str]:
    return {p["name"]: p["reason"] for p in response.json["invalid-params"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x", "pinned": "true"}, "pinned"),
        ({"text": "x", "pinned": 1}, "pinned"),
        ({"text": "x", "weight": "5"}, "weight"),
        ({"text": "x", "weight": True}, "weight"),
        ({"text": "   "}, "text"),
        ({"text": "x", "author": "a" * 250 + "@example.test"}, "author"),
        (
            {"text": "x", "reminders": [{"at": "2030-01-01T10:00:00Z", "minutes": [5, "10"]}]},
            "reminders.0.minutes.1",
        ),
    ],
)
def test_values_of_the_wrong_type_or_blank_are_a_422_naming_the_field(
    app: Flask, body: dict[str, Any], field: str
) -> None:
    response = post(app, json.dumps(body).encode())
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert field in reasons(response)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x", "due": "9999-12-31"}, "due"),
        ({"text": "x", "due": "0001-01-01"}, "due"),
        ({"text": "x", "reminders": [{"at": "9999-12-31T23:00:00+00:00"}]}, "reminders.0.at"),
        ({"text": "x", "weight": 2**31}, "weight"),
    ],
)
def test_dates_beyond_reason_and_integers_beyond_32_bits_are_a_422(
    app: Flask, body: dict[str, Any], field: str
) -> None:
    response = post(app, json.dumps(body).encode())
    assert response.status_code == 422, response.json
    assert field in reasons(response)


def test_ordinary_typed_values_pass(app: Flask) -> None:
    body = {
        "text": "x",
        "pinned": True,
        "weight": -3,
        "author": "ana@example.test",
        "due": "2031-05-01",
        "reminders": [{"at": "2031-05-01T09:00:00-07:00", "minutes": [5, 10]}],
    }
    assert post(app, json.dumps(body).encode()).status_code == 200


def test_page_numbers_and_query_dates_out_of_range_are_a_422_in_the_query(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/notes?page=2").status_code == 200
    too_far = client.get(f"/notes?page={2**63}")
    assert too_far.status_code == 422
    assert too_far.json["invalid-params"][0] == {
        "name": "page",
        "location": "query",
        "reason": f"Must be at most {2**31 - 1}.",
    }
    assert "since" in reasons(client.get("/notes?since=9999-01-01"))


def test_a_body_that_is_not_json_is_a_415(app: Flask) -> None:
    client = app.test_client()
    form = client.post("/notes", data={"text": "hello"})
    assert form.status_code == 415
    assert form.content_type == "application/problem+json"
    plain = client.post("/notes", data="text=hello", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
