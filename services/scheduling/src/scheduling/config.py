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
    # Where clients reach this API; links handed out (calendar feeds) are built from it, never from Host.
    public_url: str
    # The key of releases before key rotation: adopted as the ring's first key when the ring is empty.
    jwt_private_key_file: Path
    # The key ring: one PEM per key, the newest signs, retired ones stay published until their tokens expire.
    jwt_signing_key_dir: Path
    token_ttl_minutes: int
    # A refresh token works this long after it was issued (each refresh issues a new one).
    refresh_token_ttl_days: int
    # Sign-in counters shared by every worker: Redis when set, else this SQLite file (one host).
    redis_url: str | None
    sign_in_throttle_file: Path
    # Wrong passwords per e-mail address within the window before it is locked for the lockout.
    sign_in_max_failures: int
    sign_in_window_minutes: int
    sign_in_lockout_minutes: int
    # Wrong passwords per client address within the window before its attempts are refused (0: no limit).
    sign_in_max_failures_per_address: int
    # Sign-ups per client address within the window before more are refused (0: no limit).
    sign_up_max_per_address: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchedulingSettings:
        environ = os.environ if environ is None else environ
        env = EnvReader(environ)
        var_dir = env.str("VAR_DIR", "var")
        refresh_days = env.int("REFRESH_TOKEN_TTL_DAYS", 30)
        if refresh_days < 1:
            raise ConfigError("REFRESH_TOKEN_TTL_DAYS must be at least 1")
        sign_in = {
            name: env.int(name, default)
            for name, default in (
                ("SIGN_IN_MAX_FAILURES", 10),
                ("SIGN_IN_WINDOW_MINUTES", 15),
                ("SIGN_IN_LOCKOUT_MINUTES", 15),
            )
        }
        for name, value in sign_in.items():
            if value < 1:
                raise ConfigError(f"{name} must be at least 1")
        per_address = env.int("SIGN_IN_MAX_FAILURES_PER_ADDRESS", 100)
        if per_address < 0:
            raise ConfigError("SIGN_IN_MAX_FAILURES_PER_ADDRESS must be 0 (no limit) or more")
        sign_ups = env.int("SIGN_UP_MAX_PER_ADDRESS", 100)
        if sign_ups < 0:
            raise ConfigError("SIGN_UP_MAX_PER_ADDRESS must be 0 (no limit) or more")
        port = env.int("SCHEDULING_PORT", 8001)
        legacy_key_file = env.path("JWT_PRIVATE_KEY_FILE", f"{var_dir}/keys/jwt-signing-key.pem")
        return cls(
            common=CommonSettings.from_env("scheduling", environ, f"sqlite:///{var_dir}/scheduling.db"),
            port=port,
            public_url=env.str("SCHEDULING_PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip("/"),
            jwt_private_key_file=legacy_key_file,
            jwt_signing_key_dir=env.path("JWT_SIGNING_KEY_DIR", str(legacy_key_file.parent / "signing")),
            token_ttl_minutes=env.int("TOKEN_TTL_MINUTES", 15),
            refresh_token_ttl_days=refresh_days,
            redis_url=env.optional("REDIS_URL"),
            sign_in_throttle_file=env.path("SIGN_IN_THROTTLE_FILE", f"{var_dir}/scheduling-sign-in.db"),
            sign_in_max_failures=sign_in["SIGN_IN_MAX_FAILURES"],
            sign_in_window_minutes=sign_in["SIGN_IN_WINDOW_MINUTES"],
            sign_in_lockout_minutes=sign_in["SIGN_IN_LOCKOUT_MINUTES"],
            sign_in_max_failures_per_address=per_address,
            sign_up_max_per_address=sign_ups,
        )
