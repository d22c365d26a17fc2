"""The composition root: the one place where scheduling's real dependencies are built and wired."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clinic_shared.clock import Clock, SystemClock
from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.key_ring import KeyRing
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.throttle import counter_store
from clinic_shared.tokens import TokenVerifier
from scheduling.adapters import orm
from scheduling.adapters.passwords import Argon2PasswordHasher, common_passwords
from scheduling.adapters.unit_of_work import SqlAlchemySchedulingUnitOfWork
from scheduling.config import SchedulingSettings
from scheduling.domain.auth import SignInLimits
from scheduling.domain.passwords import PasswordPolicy
from scheduling.service_layer.auth import SignInGuard
from scheduling.service_layer.ports import PasswordHasher


@dataclass
class Container:
    settings: SchedulingSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    hasher: PasswordHasher
    sign_in_guard: SignInGuard
    password_policy: PasswordPolicy
    # Issues tokens and serves the JWKS; re-reads its directory, so a rotation needs no restart.
    signing_key: KeyRing
    verifier: TokenVerifier
    id_factory: Callable[[], uuid.UUID]

    def uow(self) -> SqlAlchemySchedulingUnitOfWork:
        return SqlAlchemySchedulingUnitOfWork(
            self.session_factory,
            OutboxWriter(orm.outbox),
            producer="scheduling",
            clock=self.clock,
            id_factory=self.id_factory,
        )

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.token_ttl_minutes)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(days=self.settings.refresh_token_ttl_days)


def bootstrap(
    settings: SchedulingSettings,
    *,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
    id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    pre_ping: bool = True,
) -> Container:
    """Build the container; call it after fork (it opens no connection itself, but owns the pool).

    ``pre_ping`` tests each pooled connection before use; a worker, which retries whatever a dropped
    connection fails, turns it off and saves a round trip per transaction.
    """
    orm.start_mappers()
    engine = make_engine(settings.common.database_url, pool_pre_ping=pre_ping)
    now: Clock = clock or SystemClock()
    hasher = hasher or Argon2PasswordHasher()
    counters = counter_store(
        redis_url=settings.redis_url,
        sqlite_file=settings.sign_in_throttle_file,
        prefix="scheduling:",
        clock=lambda: now.now().timestamp(),
    )
    limits = SignInLimits(
        max_failures=settings.sign_in_max_failures,
        window=timedelta(minutes=settings.sign_in_window_minutes),
        lockout=timedelta(minutes=settings.sign_in_lockout_minutes),
        max_failures_per_address=settings.sign_in_max_failures_per_address,
        max_sign_ups_per_address=settings.sign_up_max_per_address,
    )
    signing_key = key_ring(settings, now)
    signing_key.ensure_key()
    verifier = TokenVerifier(
        signing_key,
        issuer=settings.common.jwt_issuer,
        audience=settings.common.jwt_audience,
    )
    return Container(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        clock=now,
        hasher=hasher,
        sign_in_guard=SignInGuard(hasher, counters, limits),
        password_policy=PasswordPolicy(common_passwords()),
        signing_key=signing_key,
        verifier=verifier,
        id_factory=id_factory,
    )


def key_ring(settings: SchedulingSettings, clock: Clock) -> KeyRing:
    """The signing keys in JWT_SIGNING_KEY_DIR (the pre-rotation JWT_PRIVATE_KEY_FILE becomes the first)."""
    return KeyRing(
        settings.jwt_signing_key_dir,
        token_ttl=timedelta(minutes=settings.token_ttl_minutes),
        clock=clock,
        legacy_key_file=settings.jwt_private_key_file,
    )
