"""Billing's settings, parsed once from the environment (documented in .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from clinic_shared.settings import CommonSettings, EnvReader

# Scheduling's JWKS when it runs side by side locally; used when neither JWKS_URL nor JWKS_FILE is set.
DEFAULT_JWKS_URL = "http://localhost:8001/.well-known/jwks.json"
# Debian's fonts-dejavu-core.
DEFAULT_PDF_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@dataclass(frozen=True)
class BillingSettings:
    """Everything billing reads from its environment."""

    common: CommonSettings
    port: int
    # A TrueType font embedded in PDFs (any script prints); without it PDFs use Latin-1 Helvetica.
    pdf_font: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BillingSettings:
        environ = os.environ if environ is None else environ
        env = EnvReader(environ)
        var_dir = env.str("VAR_DIR", "var")
        return cls(
            common=CommonSettings.from_env("billing", environ, f"sqlite:///{var_dir}/billing.db"),
            port=env.int("BILLING_PORT", 8002),
            pdf_font=env.str("BILLING_PDF_FONT", DEFAULT_PDF_FONT) or None,
        )
