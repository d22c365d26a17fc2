"""Scheduling's settings, parsed once from the environment (documented in .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clinic_shared.settings import CommonSettings, ConfigError, EnvReader


@dataclass(frozen=True)
class SchedulingSettings:
    common: CommonSettings
    port: int
    jwt_private_key_file: Path
    token_ttl_minutes: int
    # A refresh token works this long after it was issued (each refresh issues a new one).
    refresh_token_ttl_days: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchedulingSettings:
        environ = os.environ if environ is None else environ
        env = EnvReader(environ)
        var_dir = env.str("VAR_DIR", "var")
        refresh_days = env.int("REFRESH_TOKEN_TTL_DAYS", 30)
        if refresh_days < 1:
            raise ConfigError("REFRESH_TOKEN_TTL_DAYS must be at least 1")
        return cls(
            common=CommonSettings.from_env("scheduling", environ, f"sqlite:///{var_dir}/scheduling.db"),
            port=env.int("SCHEDULING_PORT", 8001),
            jwt_private_key_file=env.path("JWT_PRIVATE_KEY_FILE", f"{var_dir}/keys/jwt-signing-key.pem"),
            token_ttl_minutes=env.int("TOKEN_TTL_MINUTES", 15),
            refresh_token_ttl_days=refresh_days,
        )
