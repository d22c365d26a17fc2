"""Problems name the offending fields; tokens are verified with fixed algorithms and required claims."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from flask import Flask, request
from structlog.testing import capture_logs

from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.tokens import KeySource, Principal, SigningKey, TokenError, TokenVerifier
from clinic_shared.web.problems import flatten_messages, map_exception, register_problem_handlers


def test_nested_validation_messages_become_dotted_field_names() -> None:
    messages = {"address": {"postal_code": ["Not valid."]}, "lines": {0: {"amount": ["Required."]}}}
    flat = list(flatten_messages(messages, "json"))
    assert {"name": "address.postal_code", "location": "json", "reason": "Not valid."} in flat
    assert {"name": "lines.0.amount", "location": "json", "reason": "Required."} in flat


def test_a_valid_token_yields_the_principal() -> None:
    issuer = TestIssuer()
    patient_id = uuid.uuid4()
    principal = issuer.verifier().verify(issuer.token("patient", patient_id=patient_id))
    assert principal.roles == {"patient"}
    assert principal.patient_id == patient_id
    assert not principal.is_staff


def test_unknown_roles_in_a_token_are_dropped() -> None:
    issuer = TestIssuer()
    principal = issuer.verifier().verify(issuer.token("patient", "superuser"))
    assert principal.roles == {"patient"}


def test_a_token_signed_by_another_key_is_refused() -> None:
    issuer, stranger = TestIssuer(), TestIssuer(key=SigningKey.generate())
    with pytest.raises(TokenError):
        issuer.verifier().verify(stranger.token("admin"))


def test_an_unsigned_token_is_refused() -> None:
    issuer = TestIssuer()
    forged = jwt.encode(
        {"sub": str(uuid.uuid4()), "roles": ["admin"], "iss": issuer.issuer, "aud": issuer.audience},
        key=None,
        algorithm="none",
        headers={"kid": issuer.key.kid},
    )
    with pytest.raises(TokenError):
        issuer.verifier().verify(forged)


def test_a_symmetric_token_using_the_public_key_as_secret_is_refused() -> None:
    issuer = TestIssuer()
    forged = jwt.encode(
        {"sub": str(uuid.uuid4()), "roles": ["admin"], "iss": issuer.issuer, "aud": issuer.audience},
        key="x" * 32,
        algorithm="HS256",
        headers={"kid": issuer.key.kid},
    )
    with pytest.raises(TokenError):
        issuer.verifier().verify(forged)


def test_expired_wrong_issuer_and_wrong_audience_tokens_are_refused() -> None:
    issuer = TestIssuer()
    verifier = issuer.verifier()
    with pytest.raises(TokenError, match="expired"):
        verifier.verify(issuer.token("admin", now=datetime.now(UTC) - timedelta(hours=2)))
    for other in (TestIssuer(key=issuer.key, issuer="evil"), TestIssuer(key=issuer.key, audience="other")):
        with pytest.raises(TokenError):
            verifier.verify(other.token("admin"))


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    issuer = TestIssuer()
    verifier = issuer.verifier()
    token = issuer.token("admin", ttl=timedelta(minutes=1))
    assert verifier.verify(token).roles == {"admin"}
    assert verifier.verify(token).roles == {"admin"}
    with (
        time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)),
        pytest.raises(TokenError, match="expired"),
    ):
        verifier.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused() -> None:
    issuer = TestIssuer()
    verifier = issuer.verifier()
    token = issuer.token("patient")
    verifier.verify(token)
    head, _, signature = token.rpartition(".")
    forged_claims = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(head.split(".")[1]).replace(b'"patient"', b'"admin"  ')
    ).decode()
    with pytest.raises(TokenError):
        verifier.verify(f"{head.split('.')[0]}.{forged_claims}.{signature}")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(TokenError):
        verifier.verify(f"{head}.{flipped}")


def test_remembered_tokens_are_bounded() -> None:
    issuer = TestIssuer()
    verifier = TokenVerifier(
        KeySource(jwks=issuer.key.jwks()), issuer=issuer.issuer, audience=issuer.audience, cache_size=2
    )
    tokens = [issuer.token("admin") for _ in range(5)]
    for token in tokens + tokens:
        assert verifier.verify(token).roles == {"admin"}
    assert len(verifier._verified) == 2


def test_a_token_without_a_subject_is_refused() -> None:
    issuer = TestIssuer()
    now = datetime.now(UTC)
    token = jwt.encode(
        {
            "roles": ["admin"],
            "iss": issuer.issuer,
            "aud": issuer.audience,
            "iat": now,
            "exp": now + timedelta(minutes=5),
        },
        issuer.key.private_key,
        algorithm="EdDSA",
        headers={"kid": issuer.key.kid},
    )
    with pytest.raises(TokenError):
        issuer.verifier().verify(token)


def test_the_signing_key_is_created_once_and_reloaded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys" / "signing.pem"
    first = SigningKey.load_or_create(path)
    again = SigningKey.load_or_create(path)
    assert first.kid == again.kid
    assert path.stat().st_mode & 0o777 == 0o600


def test_an_unexpected_error_is_a_500_problem_logged_without_the_raw_path() -> None:
    """Paths can carry credentials (signed links, feed tokens): the log names the route and its ids only."""
    app = Flask(__name__)
    register_problem_handlers(app)

    @app.get("/clinics/<uuid:clinic_id>/links/<token>")
    def explode(clinic_id: uuid.UUID, token: str) -> str:
        raise RuntimeError(f"boom with {token}")

    clinic_id = uuid.uuid4()
    with capture_logs() as logs:
        response = app.test_client().get(f"/clinics/{clinic_id}/links/s3cr3t-token")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    (entry,) = [e for e in logs if e["event"] == "unhandled_error"]
    assert entry["route"] == f"/clinics/{clinic_id}/links/<token>"
    assert entry["error_type"] == "RuntimeError"
    assert "s3cr3t" not in repr(entry)


def test_a_mapped_domain_error_names_where_the_request_carried_its_field() -> None:
    class Missing(Exception):
        def __init__(self, field: str) -> None:
            super().__init__(f"{field} not found")
            self.field = field

    app = Flask(__name__)
    register_problem_handlers(app)
    map_exception(app, Missing, 404, "Not Found")

    @app.post("/things/<thing_id>")
    def thing(thing_id: str) -> str:
        raise Missing(request.args.get("raise", "thing_id"))

    client = app.test_client()
    located = {
        field: client.post(f"/things/1?raise={field}&clinic_id=2", json={"owner_id": "3"}).json[
            "invalid-params"
        ][0]["location"]
        for field in ("thing_id", "clinic_id", "owner_id", "lines.0.invoice_id")
    }
    assert located == {
        "thing_id": "path",
        "clinic_id": "query",
        "owner_id": "json",
        "lines.0.invoice_id": "json",
    }


def test_clinic_staff_act_in_their_clinic_only_and_organisation_wide_staff_in_every_clinic() -> None:
    own, other = uuid.uuid4(), uuid.uuid4()
    clinic_admin = Principal(uuid.uuid4(), frozenset({"admin"}), clinic_id=own)
    organisation_admin = Principal(uuid.uuid4(), frozenset({"admin"}))
    patient = Principal(uuid.uuid4(), frozenset({"patient"}), patient_id=uuid.uuid4())
    assert (clinic_admin.acts_in(own), clinic_admin.acts_in(other)) == (True, False)
    assert (organisation_admin.acts_in(own), organisation_admin.acts_in(other)) == (True, True)
    assert (patient.acts_in(own), organisation_admin.acts_in(None)) == (False, False)
    assert (clinic_admin.organisation_wide, organisation_admin.organisation_wide) == (False, True)
    assert patient.organisation_wide is False
