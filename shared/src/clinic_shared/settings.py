"""The one configuration loader: environment variables parsed once into frozen settings objects.

Each service declares a frozen dataclass of its settings and builds it with ``EnvReader``; a missing or
malformed variable fails at start-up with a message naming the variable, never later at request time.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """An environment variable is missing or malformed."""


class EnvReader:
    """Typed, validated access to an environment mapping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str:
        value = self._environ.get(name, default)
        if value is None or value == "":
            if default is not None:
                return default
            raise ConfigError(f"{name} must be set")
        return value

    def optional(self, name: builtins.str) -> builtins.str | None:
        value = self._environ.get(name)
        return value or None

    def int(self, name: builtins.str, default: builtins.int) -> builtins.int:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None

    def optional_int(self, name: builtins.str) -> builtins.int | None:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return None
        return self.int(name, 0)

    def float(self, name: builtins.str, default: builtins.float) -> builtins.float:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def path(self, name: builtins.str, default: builtins.str | None = None) -> Path:
        return Path(self.str(name, default))


DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"


def amqp_url_setting(name: str, raw: str) -> str:
    """One AMQP URL as given, or a comma-separated list of a cluster's node URLs, checked and normalised.

    The relay and consumers fail over along the list (``messaging.connection.AmqpNodes``); ``name`` is the
    variable the value came from, for the error message.
    """
    if "," not in raw:
        return raw
    from clinic_shared.messaging.connection import amqp_urls

    try:
        return ",".join(amqp_urls(raw))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class CommonSettings:
    """What every service needs: identity, database, broker, token verification and logging."""

    service_name: str
    database_url: str
    amqp_url: str
    jwt_issuer: str
    jwt_audience: str
    jwks_url: str | None
    jwks_file: Path | None
    log_level: str
    relay_batch_size: int
    consumer_prefetch: int
    delivery_limit: int
    # Messages of the prefetch one worker handles at once (threads; each holds a database connection).
    consumer_threads: int = 1
    # Messages already waiting that a handler thread applies in one transaction (one commit for all).
    consumer_batch: int = 20
    # Proxies in front of the app that append X-Forwarded-For/-Proto (ingress, web front); 0 trusts none, so a
    # client cannot choose the address its sign-in attempts are counted against.
    trusted_proxy_hops: int = 0
    # The worker process's Prometheus endpoint (clinic_shared.messaging.metrics): off when no port is set;
    # on the loopback interface unless a host is given (a scraper in the pod or on the host).
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    @classmethod
    def from_env(
        cls, service_name: str, environ: Mapping[str, str], default_database_url: str
    ) -> CommonSettings:
        env = EnvReader(environ)
        prefix = service_name.upper()
        jwks_file = env.optional("JWKS_FILE")
        # Its own broker user where one is set up (clinic_shared.messaging.broker_users).
        amqp_url_name = f"{prefix}_AMQP_URL" if env.optional(f"{prefix}_AMQP_URL") else "AMQP_URL"
        return cls(
            service_name=service_name,
            database_url=env.str(f"{prefix}_DATABASE_URL", default_database_url),
            amqp_url=amqp_url_setting(amqp_url_name, env.str(amqp_url_name, DEFAULT_AMQP_URL)),
            jwt_issuer=env.str("JWT_ISSUER", "ims-clinic-scheduling"),
            jwt_audience=env.str("JWT_AUDIENCE", "ims-clinic"),
            jwks_url=env.optional("JWKS_URL"),
            jwks_file=Path(jwks_file) if jwks_file else None,
            log_level=env.str("LOG_LEVEL", "INFO"),
            relay_batch_size=env.int("RELAY_BATCH_SIZE", 500),
            consumer_prefetch=env.int("CONSUMER_PREFETCH", 20),
            consumer_threads=_at_least_one(env, "CONSUMER_THREADS", 1),
            consumer_batch=_at_least_one(env, "CONSUMER_BATCH", 20),
            delivery_limit=env.int("DELIVERY_LIMIT", 5),
            trusted_proxy_hops=env.int("TRUSTED_PROXY_HOPS", 0),
            metrics_port=_port(env, f"{prefix}_METRICS_PORT", "METRICS_PORT"),
            metrics_host=env.str(f"{prefix}_METRICS_HOST", env.str("METRICS_HOST", "127.0.0.1")),
        )


def _at_least_one(env: EnvReader, name: str, default: int) -> int:
    value = env.int(name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _port(env: EnvReader, *names: str) -> int | None:
    """The first of ``names`` that is set, as a TCP port (0: any free port); None when none is set."""
    for name in names:
        port = env.optional_int(name)
        if port is not None:
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} must be a TCP port (0-65535), got {port}")
            return port
    return None
