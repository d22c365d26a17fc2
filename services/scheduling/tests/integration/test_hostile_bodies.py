"""Hostile bodies on real endpoints: a 4xx problem naming the field, and nothing stored."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from scheduling.adapters import orm
from scheduling.bootstrap import Container

pytestmark = pytest.mark.integration


def test_a_thousand_levels_of_json_on_the_token_endpoint_is_a_400(client: FlaskClient) -> None:
    body = '{"email": "a@b.test", "password": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post("/auth/token", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


def test_a_nul_in_a_name_is_a_422_naming_it_and_registers_nobody(
    client: FlaskClient, container: Container
) -> None:
    response = client.post(
        "/patients",
        data=json.dumps(
            {
                "email": "nul@example.test",
                "password": "long enough pass",
                "first_name": "A\u0000",
                "last_name": "B",
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json["invalid-params"][0]["name"] == "first_name"
    with container.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(orm.accounts)).scalar_one() == 0
