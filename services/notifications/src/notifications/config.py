"""Notifications' settings, parsed once from the environment (documented in .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from clinic_shared.settings import CommonSettings, ConfigError, EnvReader


def _local_time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ConfigError("NOTIFICATIONS_AGENDA_TIME must be a local time like 06:30") from None


DEFAULT_JWKS_URL = "http://localhost:8001/.well-known/jwks.json"
DEFAULT_SMTP_FROM = "IMS Clinic <no-reply@localhost>"
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


@dataclass(frozen=True)
class NotificationsSettings:
    """Where messages go (SMTP or the development mailbox, SMS provider or sink) and how hard to try."""

    common: CommonSettings
    port: int
    smtp_url: str | None
    smtp_from: str
    smtp_timeout: float
    mailbox_dir: Path
    sms_provider_url: str | None
    sms_from: str | None
    sms_timeout: float
    sms_callback_secret: str | None
    public_url: str | None
    sms_sink_dir: Path
    max_attempts: int
    debounce_seconds: float
    stale_after_seconds: float
    agenda_time: time
    # The patient portal as a browser reaches it: messages link to its pages (a waitlist offer to its
    # "take this time" page). Unset: messages say to call the clinic instead.
    web_public_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotificationsSettings:
        environ = os.environ if environ is None else environ
        env = EnvReader(environ)
        var_dir = env.str("VAR_DIR", "var")
        settings = cls(
            common=CommonSettings.from_env("notifications", environ, f"sqlite:///{var_dir}/notifications.db"),
            port=env.int("NOTIFICATIONS_PORT", 8003),
            smtp_url=env.optional("SMTP_URL"),
            smtp_from=env.str("SMTP_FROM", DEFAULT_SMTP_FROM),
            smtp_timeout=env.float("SMTP_TIMEOUT", 10.0),
            mailbox_dir=env.path("MAILBOX_DIR", f"{var_dir}/mailbox"),
            sms_provider_url=env.optional("SMS_PROVIDER_URL"),
            sms_from=env.optional("SMS_FROM"),
            sms_timeout=env.float("SMS_TIMEOUT", 10.0),
            sms_callback_secret=env.optional("SMS_CALLBACK_SECRET"),
            public_url=env.optional("NOTIFICATIONS_PUBLIC_URL"),
            sms_sink_dir=env.path("SMS_SINK_DIR", f"{var_dir}/sms"),
            max_attempts=env.int("NOTIFICATIONS_MAX_ATTEMPTS", 5),
            debounce_seconds=env.float("NOTIFICATIONS_DEBOUNCE_SECONDS", 120.0),
            stale_after_seconds=env.float("NOTIFICATIONS_STALE_AFTER_SECONDS", 900.0),
            agenda_time=_local_time(env.str("NOTIFICATIONS_AGENDA_TIME", "06:30")),
            web_public_url=(env.optional("WEB_PUBLIC_URL") or "").rstrip("/") or None,
        )
        settings._validate()
        return settings

    @property
    def jwks_url(self) -> str:
        return self.common.jwks_url or DEFAULT_JWKS_URL

    def _validate(self) -> None:
        if self.smtp_url is not None:
            parts = urlsplit(self.smtp_url)
            if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
                raise ConfigError(
                    "SMTP_URL must look like smtp://user:pass@host:port (or smtp+starttls://, smtps://)"
                )
            try:
                _ = parts.port
            except ValueError:
                raise ConfigError("SMTP_URL has an invalid port") from None
        if "@" not in parseaddr(self.smtp_from)[1]:
            raise ConfigError(f"SMTP_FROM must be an e-mail address, got {self.smtp_from!r}")
        if self.smtp_timeout <= 0:
            raise ConfigError("SMTP_TIMEOUT must be a positive number of seconds")
        if self.sms_provider_url is not None:
            parts = urlsplit(self.sms_provider_url)
            if parts.scheme not in ("http", "https") or not parts.username or not parts.password:
                raise ConfigError("SMS_PROVIDER_URL must look like https://ACCOUNT_SID:AUTH_TOKEN@host")
            if not self.sms_from:
                raise ConfigError("SMS_FROM (the sending number, E.164) is required with SMS_PROVIDER_URL")
        if self.web_public_url is not None and urlsplit(self.web_public_url).scheme not in ("http", "https"):
            raise ConfigError("WEB_PUBLIC_URL must be an http:// or https:// URL")
        if self.stale_after_seconds <= 0:
            raise ConfigError("NOTIFICATIONS_STALE_AFTER_SECONDS must be a positive number of seconds")
        if self.debounce_seconds < 0:
            raise ConfigError("NOTIFICATIONS_DEBOUNCE_SECONDS must be zero or more")
        if self.max_attempts < 1:
            raise ConfigError("NOTIFICATIONS_MAX_ATTEMPTS must be at least 1")
