"""The composition root: the one place where billing's real dependencies are built and wired."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters import orm
from billing.adapters.document_links import NoDocumentLinks, SignedDocumentLinks
from billing.adapters.pdf import FpdfRenderer
from billing.adapters.repository import SqlAlchemyRepository
from billing.config import DEFAULT_JWKS_URL, BillingSettings
from billing.service_layer.documents import DocumentRenderer
from billing.service_layer.ports import DocumentLinks
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.clock import Clock, SystemClock
from clinic_shared.db import make_engine, make_session_factory
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.settings import CommonSettings
from clinic_shared.tokens import KeySource, TokenVerifier

PRODUCER = "billing"


@dataclass
class Container:
    """Billing's wired dependencies; one per process."""

    settings: BillingSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    verifier: TokenVerifier
    id_factory: Callable[[], uuid.UUID]
    documents: DocumentRenderer
    links: DocumentLinks

    def uow(self) -> BillingUnitOfWork:
        return BillingUnitOfWork(
            self.session_factory,
            OutboxWriter(orm.outbox),
            producer=PRODUCER,
            clock=self.clock,
            id_factory=self.id_factory,
            repositories=SqlAlchemyRepository,
        )


def key_source(common: CommonSettings) -> KeySource:
    """Scheduling's public keys: JWKS_FILE if given, else JWKS_URL, else scheduling's local default URL."""
    if common.jwks_file is None and common.jwks_url is None:
        return KeySource(url=DEFAULT_JWKS_URL)
    return KeySource(url=common.jwks_url, file=common.jwks_file)


def document_links(settings: BillingSettings) -> DocumentLinks:
    """Signed links to invoice PDFs when billing has a public URL and a link secret; otherwise none."""
    if settings.public_url is None or settings.document_link_secret is None:
        return NoDocumentLinks()
    return SignedDocumentLinks(
        settings.document_link_secret, settings.public_url, timedelta(days=settings.document_link_ttl_days)
    )


def bootstrap(
    settings: BillingSettings,
    *,
    clock: Clock | None = None,
    verifier: TokenVerifier | None = None,
    id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    links: DocumentLinks | None = None,
    pre_ping: bool = True,
) -> Container:
    """Build the container; call it after fork (it opens no connection itself, but owns the pool).

    ``pre_ping`` tests each pooled connection before use; a worker, which retries whatever a dropped
    connection fails, turns it off and saves a round trip per transaction.
    """
    orm.start_mappers()
    engine = make_engine(settings.common.database_url, pool_pre_ping=pre_ping)
    verifier = verifier or TokenVerifier(
        key_source(settings.common),
        issuer=settings.common.jwt_issuer,
        audience=settings.common.jwt_audience,
    )
    return Container(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        clock=clock or SystemClock(),
        verifier=verifier,
        id_factory=id_factory,
        documents=FpdfRenderer(settings.pdf_font),
        links=links if links is not None else document_links(settings),
    )
