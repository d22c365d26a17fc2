"""Notifications' HTTP API: the Flask app factory and its blueprints."""

from __future__ import annotations

from flask import Flask

from clinic_shared.logging import configure_logging
from clinic_shared.web.app import create_service_app
from clinic_shared.web.health import broker_check, database_check
from clinic_shared.web.metrics import OutboxCollector
from clinic_shared.web.problems import map_exception
from notifications.adapters import orm
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.errors import Forbidden, InvalidPolicy, NotFound, NotYet
from notifications.entrypoints.api import clinics, contacts, deliveries, practitioners, sms
from notifications.entrypoints.api.context import CONTAINER_KEY


def create_app(settings: NotificationsSettings | None = None, container: Container | None = None) -> Flask:
    """Build the app; gunicorn calls this in each worker after fork, so connections are per process."""
    if container is None:
        settings = settings or NotificationsSettings.from_env()
        configure_logging("notifications", settings.common.log_level)
        container = bootstrap(settings)
    app, api = create_service_app(
        __name__,
        title="Notifications",
        version="1",
        verifier=container.verifier,
        readiness={
            "database": database_check(container.engine),
            "broker": broker_check(container.settings.common.amqp_url),
        },
        trusted_proxy_hops=container.settings.common.trusted_proxy_hops,
        metrics=[OutboxCollector("notifications", container.engine, orm.outbox)],
    )
    app.extensions[CONTAINER_KEY] = container
    for module in (deliveries, contacts, clinics, practitioners, sms):
        api.register_blueprint(module.blp)
    map_exception(app, NotFound, 404, "Not Found")
    map_exception(app, Forbidden, 403, "Forbidden")
    map_exception(app, InvalidPolicy, 422, "Unprocessable Content")
    map_exception(app, NotYet, 409, "Conflict")
    return app
