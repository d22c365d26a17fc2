"""The composition root: the one place where notifications' real dependencies are built and wired."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clinic_shared.clock import Clock, SystemClock
from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.tokens import KeySource, TokenVerifier
from notifications.adapters import orm
from notifications.adapters.dev_mailbox import DevMailbox
from notifications.adapters.rendering import TemplateRenderer
from notifications.adapters.repository import SqlAlchemyRepository
from notifications.adapters.sms_sink import SmsSink
from notifications.adapters.smtp import SmtpMailer
from notifications.adapters.twilio import CallbackSigner, TwilioSignature, TwilioSms
from notifications.config import NotificationsSettings
from notifications.service_layer.dispatch import DispatchPolicy, Transports
from notifications.service_layer.ports import Mailer, MessageRenderer, SmsSender
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


@dataclass
class Container:
    settings: NotificationsSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    verifier: TokenVerifier
    id_factory: Callable[[], uuid.UUID]
    transports: Transports
    policy: DispatchPolicy
    signer: CallbackSigner
    # Verifies inbound webhooks; None (inbound texts refused) when no SMS provider is configured.
    inbound_signature: TwilioSignature | None

    def uow(self) -> NotificationsUnitOfWork:
        return NotificationsUnitOfWork(
            self.session_factory,
            OutboxWriter(orm.outbox),
            repository_factory=SqlAlchemyRepository,
            clock=self.clock,
            id_factory=self.id_factory,
            debounce=timedelta(seconds=self.settings.debounce_seconds),
        )


def bootstrap(
    settings: NotificationsSettings,
    *,
    clock: Clock | None = None,
    verifier: TokenVerifier | None = None,
    mailer: Mailer | None = None,
    sms: SmsSender | None = None,
    renderer: MessageRenderer | None = None,
    policy: DispatchPolicy | None = None,
    id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    pre_ping: bool = True,
) -> Container:
    """Build the container; call it after fork (it opens no connection itself, but owns the pool).

    ``pre_ping`` tests each pooled connection before use; a worker, which retries whatever a dropped
    connection fails, turns it off and saves a round trip per transaction.
    """
    orm.start_mappers()
    engine = make_engine(settings.common.database_url, pool_pre_ping=pre_ping)
    signer = _signer(settings)
    return Container(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        clock=clock or SystemClock(),
        verifier=verifier or _verifier(settings),
        id_factory=id_factory,
        transports=Transports(
            renderer=renderer or TemplateRenderer(web_public_url=settings.web_public_url),
            mailer=mailer or _mailer(settings),
            sms=sms or _sms_sender(settings, signer),
        ),
        policy=policy or _policy(settings),
        signer=signer,
        inbound_signature=(
            TwilioSignature.from_url(settings.sms_provider_url) if settings.sms_provider_url else None
        ),
    )


def _policy(settings: NotificationsSettings) -> DispatchPolicy:
    # Failed sends are retried after about 1, 2, 4 ... minutes (with jitter), at most an hour apart.
    backoff = Backoff(initial=60.0, cap=3600.0, jitter=0.2)
    return DispatchPolicy(
        max_attempts=settings.max_attempts,
        retry_delay=lambda attempt: timedelta(seconds=backoff.delay(attempt - 1)),
        stale_after=timedelta(seconds=settings.stale_after_seconds),
    )


def _verifier(settings: NotificationsSettings) -> TokenVerifier:
    common = settings.common
    keys = KeySource(file=common.jwks_file) if common.jwks_file else KeySource(url=settings.jwks_url)
    return TokenVerifier(keys, issuer=common.jwt_issuer, audience=common.jwt_audience)


def _mailer(settings: NotificationsSettings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer.from_url(settings.smtp_url, settings.smtp_from, timeout=settings.smtp_timeout)
    return DevMailbox(settings.mailbox_dir, settings.smtp_from)


def _signer(settings: NotificationsSettings) -> CallbackSigner:
    # Without a shared secret (web and worker must agree) no status callback is requested.
    secret = settings.sms_callback_secret
    return CallbackSigner(secret or "", settings.public_url if secret else None)


def _sms_sender(settings: NotificationsSettings, signer: CallbackSigner) -> SmsSender:
    if settings.sms_provider_url and settings.sms_from:
        return TwilioSms.from_url(
            settings.sms_provider_url, settings.sms_from, signer, timeout=settings.sms_timeout
        )
    return SmsSink(settings.sms_sink_dir)
