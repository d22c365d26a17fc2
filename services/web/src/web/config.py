"""The web front's settings, parsed once from the environment (documented in .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clinic_shared.settings import ConfigError, EnvReader


@dataclass(frozen=True)
class WebSettings:
    scheduling_url: str
    billing_url: str
    notifications_url: str
    public_url: str
    secret_key: str
    redis_url: str | None
    session_file: Path
    session_hours: int
    api_timeout_seconds: float
    log_level: str
    jwt_issuer: str
    jwt_audience: str

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        environ = os.environ if environ is None else environ
        env = EnvReader(environ)
        var_dir = env.str("VAR_DIR", "var")
        secret_key = env.str("WEB_SECRET_KEY")
        if len(secret_key) < 32:
            raise ConfigError("WEB_SECRET_KEY must be at least 32 characters")
        return cls(
            scheduling_url=env.str("SCHEDULING_URL", "http://127.0.0.1:8001").rstrip("/"),
            billing_url=env.str("BILLING_URL", "http://127.0.0.1:8002").rstrip("/"),
            notifications_url=env.str("NOTIFICATIONS_URL", "http://127.0.0.1:8003").rstrip("/"),
            public_url=env.str("WEB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            secret_key=secret_key,
            redis_url=env.optional("REDIS_URL"),
            session_file=env.path("WEB_SESSION_FILE", f"{var_dir}/web-sessions.db"),
            session_hours=env.int("WEB_SESSION_HOURS", 12),
            api_timeout_seconds=env.float("WEB_API_TIMEOUT_SECONDS", 5.0),
            log_level=env.str("LOG_LEVEL", "INFO"),
            jwt_issuer=env.str("JWT_ISSUER", "ims-clinic-scheduling"),
            jwt_audience=env.str("JWT_AUDIENCE", "ims-clinic"),
        )
