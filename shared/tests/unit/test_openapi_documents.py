"""The OpenAPI document describes responses as they are sent: errors as problem+json, pagination as JSON."""

from __future__ import annotations

from typing import Any

from flask import Flask
from marshmallow import Schema, fields

from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.web.app import create_service_app
from clinic_shared.web.auth import public, require_roles
from clinic_shared.web.request_limits import Blueprint


def spec_of_an_app() -> tuple[Flask, dict[str, Any]]:
    app, api = create_service_app(
        __name__, title="t", version="1", verifier=TestIssuer().verifier(), readiness={}
    )
    blp = Blueprint("things", __name__)

    @blp.route("/things", methods=["GET"])
    @blp.response(200)
    @blp.paginate()
    @public
    def things(pagination_parameters: Any) -> list[str]:
        pagination_parameters.item_count = 1
        return ["one"]

    @blp.route("/things/<int:n>", methods=["GET"])
    @blp.response(200)
    @blp.alt_response(404, description="No such thing")
    @public
    def thing(n: int) -> dict[str, int]:
        return {"n": n}

    api.register_blueprint(blp)
    return app, app.test_client().get("/openapi.json").json


def test_every_documented_error_is_problem_json_as_sent() -> None:
    app, spec = spec_of_an_app()
    documented = spec["paths"]["/things/{n}"]["get"]["responses"]["404"]
    assert list(documented["content"]) == ["application/problem+json"]
    assert documented["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "invalid-params" in spec["components"]["schemas"]["Problem"]["properties"]
    for name, response in spec["components"]["responses"].items():
        assert list(response["content"]) == ["application/problem+json"], name
    sent = app.test_client().get("/things/x")
    assert sent.status_code == 404
    assert sent.content_type == "application/problem+json"


def test_the_pagination_header_is_documented_as_the_json_it_carries() -> None:
    app, spec = spec_of_an_app()
    header = spec["components"]["headers"]["PAGINATION"]
    assert "schema" not in header
    assert header["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginationMetadata"
    }
    assert app.test_client().get("/things").headers["X-Pagination"].startswith("{")


def test_a_public_view_is_documented_as_needing_no_token() -> None:
    app, spec = spec_of_an_app()
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/things/{n}"]["get"]["security"] == []
    assert app.test_client().get("/things/1").status_code == 200


def test_the_refusals_made_before_a_view_runs_are_documented_on_each_operation() -> None:
    issuer = TestIssuer()
    app, api = create_service_app(__name__, title="t", version="1", verifier=issuer.verifier(), readiness={})
    blp = Blueprint("notes", __name__)

    class Note(Schema):
        text = fields.String(required=True)

    @blp.route("/notes", methods=["POST"])
    @blp.arguments(Note)
    @blp.response(201, Note)
    @require_roles("admin", "billing")
    def add(note: dict[str, Any]) -> dict[str, Any]:
        return note

    api.register_blueprint(blp)
    spec = app.test_client().get("/openapi.json").json
    documented = spec["paths"]["/notes"]["post"]["responses"]
    assert {"400", "401", "403", "413", "415", "422"} <= set(documented)
    assert "404" not in documented
    assert spec["paths"]["/notes"]["post"]["x-roles"] == ["admin", "billing"]
    public_thing = spec_of_an_app()[1]["paths"]["/things/{n}"]["get"]["responses"]
    assert "401" not in public_thing
    assert public_thing["404"]["description"] == "No such thing"
    client = app.test_client()
    token = issuer.headers("admin")
    sent = {
        "401": client.post("/notes", json={"text": "x"}),
        "403": client.post("/notes", json={"text": "x"}, headers=issuer.headers("patient")),
        "415": client.post("/notes", data="text=x", headers=token),
        "400": client.post("/notes", data="{", headers=token | {"Content-Type": "application/json"}),
        "413": client.post("/notes", json={"text": "x" * 2_000_000}, headers=token),
    }
    for status, response in sent.items():
        assert str(response.status_code) == status
        assert response.content_type == "application/problem+json"
        assert documented[status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }


def test_no_operation_hides_its_errors_behind_a_default_response() -> None:
    _, spec = spec_of_an_app()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert "default" not in operation["responses"], f"{method.upper()} {path}"
    assert set(spec["paths"]["/things/{n}"]["get"]["responses"]) >= {"200", "404"}


def test_the_roles_of_an_operation_are_documented_in_one_order_whatever_order_they_came_in() -> None:
    from clinic_shared.web.auth import ROLES_EXTENSION, require_roles

    def view() -> None: ...

    documented = require_roles("front_desk", "admin", "billing")(view)._apidoc["manual_doc"]  # type: ignore[attr-defined]
    assert documented[ROLES_EXTENSION] == ["admin", "billing", "front_desk"]
