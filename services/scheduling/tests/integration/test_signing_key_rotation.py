"""Rotating scheduling's signing key: running workers switch to the new key, old tokens live out their TTL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from clinic_shared.testing.clock import ManualClock
from clinic_shared.tokens import KeySource, SigningKey, TokenError, TokenVerifier
from scheduling.adapters.passwords import Argon2PasswordHasher
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.entrypoints.cli import main

from ..conftest import Api


def kid_of(headers: dict[str, str]) -> str:
    return jwt.get_unverified_header(headers["Authorization"].removeprefix("Bearer "))["kid"]


def published_kids(client: FlaskClient) -> set[str]:
    return {jwk["kid"] for jwk in client.get("/.well-known/jwks.json").json["keys"]}


def rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["rotate-signing-key"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_a_rotation_switches_new_tokens_to_the_new_key_and_old_ones_verify_until_the_key_is_dropped(
    api: Api,
    client: FlaskClient,
    container: Container,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, old_headers = api.register_patient("ana@example.test")
    old_kid = kid_of(old_headers)

    new_kid = rotate(tmp_path, monkeypatch)
    clock.advance(timedelta(seconds=10))

    assert new_kid != old_kid
    assert published_kids(client) == {old_kid, new_kid}
    new_headers = api.token("ana@example.test", "correct horse battery")
    assert kid_of(new_headers) == new_kid
    assert client.get("/clinics", headers=old_headers).status_code == 200
    elsewhere = TokenVerifier(
        KeySource(jwks=client.get("/.well-known/jwks.json").json),
        issuer=container.settings.common.jwt_issuer,
        audience=container.settings.common.jwt_audience,
    )
    old_token = old_headers["Authorization"].removeprefix("Bearer ")
    assert (
        elsewhere.verify(old_token).account_id
        == elsewhere.verify(new_headers["Authorization"].removeprefix("Bearer ")).account_id
    )

    clock.advance(container.token_ttl + timedelta(minutes=5))

    assert published_kids(client) == {new_kid}
    assert client.get("/clinics", headers=old_headers).status_code == 401
    assert client.get("/clinics", headers=new_headers).status_code == 200
    with pytest.raises(TokenError):
        TokenVerifier(
            KeySource(jwks=client.get("/.well-known/jwks.json").json),
            issuer=container.settings.common.jwt_issuer,
            audience=container.settings.common.jwt_audience,
        ).verify(old_token)


def test_after_the_upgrade_the_old_key_file_is_the_first_key_so_earlier_tokens_keep_working(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    legacy = SigningKey.load_or_create(tmp_path / "keys" / "jwt-signing-key.pem")
    settings = SchedulingSettings.from_env(
        {"SCHEDULING_DATABASE_URL": database_url, "VAR_DIR": str(tmp_path)}
    )

    c = bootstrap(settings, clock=clock, hasher=Argon2PasswordHasher(fast=True))
    try:
        assert settings.jwt_signing_key_dir == tmp_path / "keys" / "signing"
        assert c.signing_key.signing_key().kid == legacy.kid
        assert [
            path.name.endswith(f"-{legacy.kid}.pem") for path in settings.jwt_signing_key_dir.glob("*.pem")
        ] == [True]
    finally:
        c.engine.dispose()
