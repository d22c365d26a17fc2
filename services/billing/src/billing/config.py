"""Billing's settings, parsed once from the environment (documented in .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from clinic_shared.settings import CommonSettings, ConfigError, EnvReader

# Scheduling's JWKS when it runs side by side locally; used when neither JWKS_URL nor JWKS_FILE is set.
DEFAULT_JWKS_URL = "http://localhost:8001/.well-known/jwks.json"
# Debian's fonts-dejavu-core.
DEFAULT_PDF_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# HMAC-SHA256 keys shorter than this are guessable offline from any link seen in an email.
MIN_DOCUMENT_LINK_SECRET = 32
DEFAULT_DOCUMENT_LINK_TTL_DAYS = 30
# A week: a till or client that retries after a long weekend or holiday closure still gets its first
# response instead of recording the payment twice; the rows are small, so keeping them costs little.
DEFAULT_IDEMPOTENCY_KEY_RETENTION_HOURS = 168


@dataclass(frozen=True)
class BillingSettings:
    """Everything billing reads from its environment."""

    common: CommonSettings
    port: int
    # A TrueType font embedded in PDFs (any script prints); without it PDFs use Latin-1 Helvetica.
    pdf_font: str | None
    # Where patients reach billing (e.g. https://billing.example); links are absolute URLs under it.
    public_url: str | None
    # Signs patients' download links (every web process of one billing must share it). Links are only
    # given out when both this and public_url are set.
    document_link_secret: str | None = field(repr=False)
    document_link_ttl_days: int
    # How long an Idempotency-Key (and the response it replays) is kept before the worker purges it.
    idempotency_key_retention_hours: int = DEFAULT_IDEMPOTENCY_KEY_RETENTION_HOURS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BillingSettings:
        environ = os.environ if environ is None else environ
        env = EnvReader(environ)
        var_dir = env.str("VAR_DIR", "var")
        public_url = env.optional("BILLING_PUBLIC_URL")
        settings = cls(
            common=CommonSettings.from_env("billing", environ, f"sqlite:///{var_dir}/billing.db"),
            port=env.int("BILLING_PORT", 8002),
            pdf_font=env.str("BILLING_PDF_FONT", DEFAULT_PDF_FONT) or None,
            public_url=public_url.rstrip("/") if public_url else None,
            document_link_secret=env.optional("DOCUMENT_LINK_SECRET"),
            document_link_ttl_days=env.int("DOCUMENT_LINK_TTL_DAYS", DEFAULT_DOCUMENT_LINK_TTL_DAYS),
            idempotency_key_retention_hours=env.int(
                "IDEMPOTENCY_KEY_RETENTION_HOURS", DEFAULT_IDEMPOTENCY_KEY_RETENTION_HOURS
            ),
        )
        settings._validate()
        return settings

    def _validate(self) -> None:
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ConfigError(
                    "BILLING_PUBLIC_URL must be an http(s) base URL such as https://billing.example"
                )
        secret = self.document_link_secret
        if secret is not None and len(secret) < MIN_DOCUMENT_LINK_SECRET:
            raise ConfigError(
                f"DOCUMENT_LINK_SECRET must be at least {MIN_DOCUMENT_LINK_SECRET} characters "
                f"(it has {len(secret)}); generate one with: python -c "
                "'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.document_link_ttl_days < 1:
            raise ConfigError("DOCUMENT_LINK_TTL_DAYS must be a whole number of days, at least 1")
        if self.idempotency_key_retention_hours < 1:
            raise ConfigError("IDEMPOTENCY_KEY_RETENTION_HOURS must be a whole number of hours, at least 1")
