"""Scheduling's HTTP API: the Flask app factory and its blueprints."""

from __future__ import annotations

from flask import Flask, Response
from sqlalchemy.orm.exc import StaleDataError

from clinic_shared.logging import configure_logging
from clinic_shared.web.app import create_service_app
from clinic_shared.web.health import broker_check, database_check
from clinic_shared.web.metrics import OutboxCollector
from clinic_shared.web.problems import Problem, map_exception, problem_response
from clinic_shared.web.redaction import RedactPathSecrets
from scheduling.adapters import orm
from scheduling.adapters.unit_of_work import STALE_MESSAGE
from scheduling.bootstrap import Container, bootstrap
from scheduling.config import SchedulingSettings
from scheduling.domain.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    NotFound,
    PreconditionFailed,
    RuleViolation,
)
from scheduling.entrypoints.api import (
    accounts,
    appointments,
    availability,
    calendar,
    clinic_patients,
    clinics,
    fhir,
    plans,
    waitlist,
)
from scheduling.entrypoints.api.context import CONTAINER_KEY


def create_app(settings: SchedulingSettings | None = None, container: Container | None = None) -> Flask:
    """Build the app; gunicorn calls this in each worker after fork, so connections are per process."""
    if container is None:
        container = bootstrap(settings or SchedulingSettings.from_env())
    configure_logging("scheduling", container.settings.common.log_level)
    app, api = create_service_app(
        __name__,
        title="Scheduling",
        version="1",
        verifier=container.verifier,
        readiness={
            "database": database_check(container.engine),
            "broker": broker_check(container.settings.common.amqp_url),
        },
        trusted_proxy_hops=container.settings.common.trusted_proxy_hops,
        metrics=[OutboxCollector("scheduling", container.engine, orm.outbox)],
    )
    app.extensions[CONTAINER_KEY] = container
    blueprints = [accounts, clinics, clinic_patients, availability, appointments, plans, waitlist]
    for module in (*blueprints, calendar, fhir):
        api.register_blueprint(module.blp)
    app.wsgi_app = RedactPathSecrets(app.wsgi_app, calendar.SECRET_PATH_PREFIXES)  # type: ignore[method-assign]
    map_exception(app, NotFound, 404, "Not Found")
    map_exception(app, Conflict, 409, "Conflict")
    map_exception(app, PreconditionFailed, 412, "Precondition Failed")
    map_exception(app, RuleViolation, 422, "Unprocessable Content")
    map_exception(app, Forbidden, 403, "Forbidden")
    map_exception(app, InvalidCredentials, 401, "Unauthorized")

    @app.errorhandler(StaleDataError)
    def _stale(_error: StaleDataError) -> Response:
        # A version compare-and-set that failed in an autoflush (the unit of work maps its own flushes).
        return problem_response(Problem(409, "Conflict", STALE_MESSAGE))

    return app
