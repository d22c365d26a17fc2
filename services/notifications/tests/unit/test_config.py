"""Settings from the environment and what bootstrap builds from them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clinic_shared.settings import ConfigError
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters.dev_mailbox import DevMailbox
from notifications.adapters.sms_sink import SmsSink
from notifications.adapters.smtp import SmtpMailer
from notifications.adapters.twilio import TwilioSms
from notifications.bootstrap import bootstrap
from notifications.config import NotificationsSettings


def test_defaults_use_the_development_mailbox_and_sms_sink_under_var() -> None:
    settings = NotificationsSettings.from_env({})
    assert settings.common.database_url == "sqlite:///var/notifications.db"
    assert settings.port == 8003
    assert settings.smtp_url is None
    assert settings.smtp_from == "IMS Clinic <no-reply@localhost>"
    assert settings.mailbox_dir == Path("var/mailbox")
    assert settings.sms_provider_url is None
    assert settings.sms_sink_dir == Path("var/sms")
    assert settings.jwks_url == "http://localhost:8001/.well-known/jwks.json"


def test_var_dir_moves_the_default_locations() -> None:
    settings = NotificationsSettings.from_env({"VAR_DIR": "/srv/clinic"})
    assert settings.common.database_url == "sqlite:////srv/clinic/notifications.db"
    assert settings.mailbox_dir == Path("/srv/clinic/mailbox")
    assert settings.sms_sink_dir == Path("/srv/clinic/sms")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMTP_URL", "http://mail.example.com"),
        ("SMTP_URL", "smtp://:25"),
        ("SMTP_URL", "smtp://mail.example.com:notaport"),
        ("SMTP_FROM", "IMS Clinic"),
        ("SMTP_TIMEOUT", "0"),
        ("NOTIFICATIONS_MAX_ATTEMPTS", "0"),
    ],
)
def test_malformed_settings_fail_at_start_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        NotificationsSettings.from_env({name: value})


def test_smtp_url_selects_the_smtp_mailer(
    sqlite_url: str, make_settings: Callable[..., NotificationsSettings], issuer: TestIssuer
) -> None:
    settings = make_settings(sqlite_url, SMTP_URL="smtp+starttls://u:p@mail.example.com", SMTP_TIMEOUT="3")
    container = bootstrap(settings, verifier=issuer.verifier())
    mailer = container.transports.mailer
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.endpoint.host, mailer.endpoint.port, mailer.endpoint.security) == (
        "mail.example.com",
        587,
        "starttls",
    )
    assert isinstance(container.transports.sms, SmsSink)
    container.engine.dispose()


def test_without_smtp_url_mail_goes_to_the_development_mailbox(
    sqlite_url: str, make_settings: Callable[..., NotificationsSettings], issuer: TestIssuer, tmp_path: Path
) -> None:
    container = bootstrap(make_settings(sqlite_url), verifier=issuer.verifier())
    mailer = container.transports.mailer
    assert isinstance(mailer, DevMailbox)
    assert mailer.directory == tmp_path / "mailbox"
    container.engine.dispose()


@pytest.mark.parametrize(
    "env",
    [
        {"SMS_PROVIDER_URL": "https://api.twilio.com", "SMS_FROM": "+16045550000"},
        {"SMS_PROVIDER_URL": "ftp://AC1:tok@api.twilio.com", "SMS_FROM": "+16045550000"},
        {"SMS_PROVIDER_URL": "https://AC1:tok@api.twilio.com"},
    ],
)
def test_an_sms_provider_needs_credentials_in_its_url_and_a_sending_number(
    sqlite_url: str, make_settings: Callable[..., NotificationsSettings], env: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match="SMS_"):
        make_settings(sqlite_url, **env)


def test_a_configured_sms_provider_replaces_the_sink(
    sqlite_url: str, make_settings: Callable[..., NotificationsSettings], issuer: TestIssuer
) -> None:
    settings = make_settings(
        sqlite_url, SMS_PROVIDER_URL="https://AC1:secret@api.twilio.com", SMS_FROM="+16045550000"
    )
    container = bootstrap(settings, verifier=issuer.verifier())
    assert isinstance(container.transports.sms, TwilioSms)
    container.engine.dispose()


def test_tokens_are_verified_with_the_jwks_file_when_one_is_given(
    sqlite_url: str, make_settings: Callable[..., NotificationsSettings], issuer: TestIssuer, tmp_path: Path
) -> None:
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    container = bootstrap(make_settings(sqlite_url, JWKS_FILE=str(jwks)))
    principal = container.verifier.verify(issuer.token("front_desk"))
    assert principal.roles == {"front_desk"}
    container.engine.dispose()
