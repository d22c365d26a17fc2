"""Test support: a Flask test client signed in without the sign-in form."""

from __future__ import annotations

from flask.testing import FlaskClient

from web.entrypoints import signin
from web.service_layer.accounts import Credentials


def sign_in(client: FlaskClient, credentials: Credentials) -> None:
    with client.session_transaction() as session:
        session["signed_in"] = True
        sid = session.sid  # type: ignore[attr-defined]
    with client.application.app_context():
        signin.store_credentials(sid, credentials)
