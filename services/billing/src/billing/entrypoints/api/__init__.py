"""Billing's HTTP API: the Flask app factory and its blueprints."""

from __future__ import annotations

from flask import Flask

from billing.adapters import orm
from billing.bootstrap import Container, bootstrap
from billing.config import BillingSettings
from billing.domain.errors import Conflict, NotFound, RuleViolation
from billing.entrypoints.api import (
    billing_queue,
    charges,
    credit_notes,
    documents,
    invoices,
    payments,
    policies,
    prices,
    privacy,
    reports,
)
from billing.entrypoints.api.context import CONTAINER_KEY
from billing.service_layer.ports import DocumentLinkExpired, DocumentLinksDisabled
from clinic_shared.logging import configure_logging
from clinic_shared.web.app import create_service_app
from clinic_shared.web.health import broker_check, database_check
from clinic_shared.web.metrics import OutboxCollector
from clinic_shared.web.problems import map_exception
from clinic_shared.web.redaction import RedactPathSecrets


def create_app(settings: BillingSettings | None = None, container: Container | None = None) -> Flask:
    """Build the app; gunicorn calls this in each worker after fork, so connections are per process."""
    if container is None:
        settings = settings or BillingSettings.from_env()
        configure_logging("billing", settings.common.log_level)
        container = bootstrap(settings)
    app, api = create_service_app(
        __name__,
        title="Billing",
        version="1",
        verifier=container.verifier,
        readiness={
            "database": database_check(container.engine),
            "broker": broker_check(container.settings.common.amqp_url),
        },
        trusted_proxy_hops=container.settings.common.trusted_proxy_hops,
        metrics=[OutboxCollector("billing", container.engine, orm.outbox)],
    )
    app.extensions[CONTAINER_KEY] = container
    for module in (
        prices,
        charges,
        billing_queue,
        invoices,
        credit_notes,
        payments,
        policies,
        reports,
        documents,
        privacy,
    ):
        api.register_blueprint(module.blp)
    app.wsgi_app = RedactPathSecrets(app.wsgi_app, documents.SECRET_PATH_PREFIXES)  # type: ignore[method-assign]
    # Subclasses (InvalidTransition, InvalidMoney, CurrencyMismatch) are rendered by their base's handler.
    map_exception(app, NotFound, 404, "Not Found")
    map_exception(app, Conflict, 409, "Conflict")
    map_exception(app, RuleViolation, 422, "Unprocessable Content")
    map_exception(app, DocumentLinkExpired, 410, "Gone")
    # A server setting, not the invoice's state, so 503 rather than 409; the signed-in PDF still works.
    map_exception(app, DocumentLinksDisabled, 503, "Service Unavailable")
    return app
