"""The fuzzing harness the services' fuzz tests use reports what it should: server errors, bodies unlike
their schema and undocumented content types, and passes a service whose answers are as documented."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask, Response

from clinic_shared.testing.fuzz import fuzz
from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.web.app import create_service_app
from clinic_shared.web.problems import Problem
from clinic_shared.web.request_limits import Blueprint


class ThingSchema(ma.Schema):
    name = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=10))


def app_answering(answer: Any, issuer: TestIssuer) -> Flask:
    app, api = create_service_app(__name__, title="t", version="1", verifier=issuer.verifier(), readiness={})
    blp = Blueprint("things", __name__)

    @blp.route("/things", methods=["POST"])
    @blp.arguments(ThingSchema)
    @blp.response(201, ThingSchema)
    def create(thing: dict[str, Any]) -> Any:
        return answer(thing)

    api.register_blueprint(blp)
    return app


def run(answer: Any) -> Any:
    issuer = TestIssuer()
    return fuzz(app_answering(answer, issuer), "things", headers=issuer.headers("admin"), max_examples=5)


def test_an_api_answering_as_documented_passes() -> None:
    result = run(lambda thing: thing)
    assert result.passed, result.problems()
    assert result.answered_2xx == {"POST /things"}
    assert result.total > 0


def test_a_server_error_fails() -> None:
    result = run(lambda thing: 1 // (thing["size"] - thing["size"]))
    assert any("not_a_server_error" in failure for failure in result.failures), result.problems()


def test_a_problem_with_extension_members_is_as_documented() -> None:
    def refuse(thing: dict[str, Any]) -> Any:
        raise Problem(429, "Too Many Requests", "Slow down.", extra={"reason": "account_locked"})

    result = run(refuse)
    assert result.statuses[429] > 0
    assert not any("response_schema_conformance" in failure for failure in result.failures), result.problems()


def test_a_body_unlike_its_schema_fails() -> None:
    result = run(lambda thing: {"name": None, "size": thing["size"]})
    assert any("response_schema_conformance" in failure for failure in result.failures), result.problems()


def test_an_undocumented_content_type_fails() -> None:
    result = run(lambda thing: Response("made", status=201, content_type="text/plain"))
    assert any("content_type_conformance" in failure for failure in result.failures), result.problems()


def test_known_ids_are_sent_in_place_of_generated_values_part_of_the_time() -> None:
    names: list[str] = []

    def remember(thing: dict[str, Any]) -> Any:
        names.append(thing["name"])
        return thing

    issuer = TestIssuer()
    result = fuzz(
        app_answering(remember, issuer),
        "things",
        headers=issuer.headers("admin"),
        known_ids={"name": "seeded-name"},
        max_examples=20,
    )
    assert result.passed, result.problems()
    assert "seeded-name" in names
    assert set(names) != {"seeded-name"}


def test_a_token_from_another_issuer_gets_no_request_through() -> None:
    issuer = TestIssuer()
    result = fuzz(app_answering(lambda thing: thing, issuer), "things", headers=TestIssuer().headers("admin"))
    assert not result.answered_2xx
    assert set(result.statuses) - {401, 405, 200} == set(), result.summary()
