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


class NoteSchema(Schema):
    text = fields.String(required=True)
    tags = fields.List(fields.Raw(), load_default=list)


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
