"""The client address is the peer's unless proxies in front are trusted, and then only as many as said."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request

from clinic_shared.settings import CommonSettings
from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.web.app import create_service_app
from clinic_shared.web.auth import public
from clinic_shared.web.request_limits import Blueprint


def app_trusting(hops: int) -> Flask:
    app, api = create_service_app(
        __name__,
        title="t",
        version="1",
        verifier=TestIssuer().verifier(),
        readiness={},
        trusted_proxy_hops=hops,
    )
    blp = Blueprint("whoami", __name__)

    @blp.route("/whoami", methods=["GET"])
    @public
    def whoami() -> dict[str, Any]:
        return {"address": request.remote_addr, "scheme": request.scheme}

    api.register_blueprint(blp)
    return app


FORWARDED = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https, https"}


@pytest.mark.parametrize(
    ("hops", "address", "scheme"),
    [(0, "10.0.0.2", "http"), (1, "203.0.113.9", "https"), (2, "6.6.6.6", "https")],
)
def test_forwarded_addresses_count_only_for_the_trusted_hops(hops: int, address: str, scheme: str) -> None:
    client = app_trusting(hops).test_client()
    answer = client.get("/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert answer.json == {"address": address, "scheme": scheme}


def test_trusted_hops_and_a_service_broker_user_come_from_the_environment() -> None:
    env = {"TRUSTED_PROXY_HOPS": "1", "BILLING_AMQP_URL": "amqp://ims-billing:pw@mq/ims"}
    billing = CommonSettings.from_env("billing", env, "sqlite://")
    notifications = CommonSettings.from_env("notifications", env | {"AMQP_URL": "amqp://shared"}, "sqlite://")
    assert (billing.trusted_proxy_hops, billing.amqp_url) == (1, "amqp://ims-billing:pw@mq/ims")
    assert (notifications.amqp_url, CommonSettings.from_env("x", {}, "sqlite://").trusted_proxy_hops) == (
        "amqp://shared",
        0,
    )
