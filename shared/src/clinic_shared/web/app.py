"""The app factory base: every service's Flask app starts here so all share errors, auth, health and docs."""

from __future__ import annotations

import http
import uuid
from collections.abc import Mapping
from typing import Any

from apispec import BasePlugin
from flask import Flask, Response, g, request
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from prometheus_client.registry import Collector
from werkzeug.middleware.proxy_fix import ProxyFix

from clinic_shared import tracing
from clinic_shared.tokens import TokenVerifier
from clinic_shared.uow import current_correlation_id
from clinic_shared.web.auth import ROLES_EXTENSION, install_authentication
from clinic_shared.web.docs import docs_blueprint
from clinic_shared.web.health import Check, health_blueprint
from clinic_shared.web.metrics import install_metrics
from clinic_shared.web.problems import PROBLEM_MEDIA_TYPE, ProblemSchema, register_problem_handlers
from clinic_shared.web.request_limits import MAX_BODY_BYTES

CORRELATION_HEADER = "X-Correlation-ID"
# The APIs answer JSON, PDFs and calendars, never pages to frame or run scripts in (the API docs aside).
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    # Browsers ignore HSTS over plain HTTP, so it is safe to send everywhere; behind TLS it pins HTTPS.
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Patient data and tokens must not sit in shared caches or the browser's; a view may say otherwise.
    "Cache-Control": "no-store",
}
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "docs.static", "static"}


PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


# Refusals every operation of a kind can answer, whatever its view does (the shared layer sends them).
UNAUTHORIZED = "Missing, expired or invalid bearer token (`WWW-Authenticate: Bearer`)"
NOT_FOUND = "Nothing with this id (also an id that is not well-formed)"
BODY_TOO_LARGE = "The body is larger than this operation reads"
BAD_JSON = "The body is not valid JSON, or is nested too deep"
NOT_JSON = "The body is not JSON (send `Content-Type: application/json`)"


class ProblemResponses(BasePlugin):
    """Documents every error response as it is sent: ``application/problem+json`` with the Problem schema
    (an ``alt_response`` given only a description would otherwise promise an empty body), and the refusals
    the shared layer makes before a view runs: 401 without a valid token (unless the operation is public),
    403 without one of the roles the operation names (``x-roles``, from ``require_roles``), 404 for a path
    naming nothing, and 413, 400 and 415 for a body too large, malformed or not JSON."""

    def operation_helper(self, path: Any = None, operations: Any = None, **kwargs: Any) -> None:
        for operation in (operations or {}).values():
            generic: dict[str, str] = {}
            if operation.get("security") != []:
                generic["401"] = UNAUTHORIZED
            if operation.get(ROLES_EXTENSION):
                generic["403"] = f"Only for the roles {', '.join(operation[ROLES_EXTENSION])}"
            if "{" in str(path or ""):
                generic["404"] = NOT_FOUND
            body = operation.get("requestBody", {}).get("content", {})
            if body:
                generic["413"] = BODY_TOO_LARGE
            if "application/json" in body:
                generic |= {"400": BAD_JSON, "415": NOT_JSON}
            responses = operation.setdefault("responses", {})
            for status, description in generic.items():
                if status not in responses and int(status) not in responses:
                    responses[status] = {"description": description}
            for status, response in responses.items():
                if str(status)[0] in "45" and isinstance(response, dict) and "$ref" not in response:
                    response["content"] = PROBLEM_CONTENT


class ProblemApi(Api):
    """flask-smorest Api whose errors are RFC 9457 problem documents, and documented as such."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_RESPONSE_CONTENT_TYPE = "application/json"
    # No catch-all ``default`` response: it would document every status, so a 4xx an operation does not
    # list (and a client cannot plan for) would pass the conformance checks unseen.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        register_problem_handlers(self._app)

    def _register_responses(self) -> None:
        self.spec.components.schema("Problem", schema=self.ERROR_SCHEMA)
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = PROBLEM_CONTENT
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR", {"description": "Default error response", "content": PROBLEM_CONTENT}, lazy=True
        )

    def _register_pagination_header(self) -> None:
        # The header's value is a JSON document, so it is described as JSON content, not as an object.
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata (a JSON object)",
                "content": {"application/json": {"schema": PaginationMetadataSchema}},
            },
            lazy=True,
        )


def trace_requests(app: Flask) -> None:
    """A SERVER span per request while tracing is on, child of the caller's ``traceparent`` (the web front's,
    say). Named by method and URL rule, never the path as asked (nor its query, which may carry personal
    data). Install it before any other ``before_request`` hook: one that refuses the request ends the rest.
    """

    @app.before_request
    def _start_span() -> None:
        if not tracing.enabled():
            return
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        attributes = {"http.request.method": request.method, "http.route": route}
        g.clinic_span = tracing.start(
            f"{request.method} {route}",
            kind=tracing.SpanKind.SERVER,
            parent=request.headers,
            attributes=attributes,
        )

    @app.after_request
    def _record_status(response: Response) -> Response:
        active: tracing.ActiveSpan | None = g.get("clinic_span")
        if active is not None:
            active.span.set_attribute("http.response.status_code", response.status_code)
            correlation = current_correlation_id.get()
            if correlation is not None:
                active.span.set_attribute("clinic.correlation_id", str(correlation))
            if response.status_code >= 500:
                tracing.mark_failed(active.span, str(response.status_code))
        return response

    @app.teardown_request
    def _end_span(error: BaseException | None) -> None:
        active: tracing.ActiveSpan | None = g.pop("clinic_span", None)
        if active is not None:
            active.end(error)


def create_service_app(
    import_name: str,
    *,
    title: str,
    version: str,
    verifier: TokenVerifier,
    readiness: Mapping[str, Check],
    public_endpoints: set[str] | None = None,
    trusted_proxy_hops: int = 0,
    metrics: list[Collector] | None = None,
) -> tuple[Flask, Api]:
    """A Flask app with the OpenAPI spec, problem errors, bearer auth, health and docs wired in.

    ``trusted_proxy_hops``: how many proxies in front append ``X-Forwarded-For``/``-Proto``; the client
    address (``request.remote_addr``, which sign-in throttling counts) is then the one the outermost of them
    saw. With 0 the forwarding headers are ignored: a client could otherwise pick any address.
    ``metrics``: collectors ``GET /metrics`` serves besides the request counts (e.g. the outbox's backlog).
    """
    app = Flask(import_name)
    trace_requests(app)
    if trusted_proxy_hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxy_hops, x_proto=trusted_proxy_hops)  # type: ignore[method-assign]
    app.config.update(
        API_TITLE=title,
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,  # larger bodies are refused (413) before they are read
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    api = ProblemApi(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
            "security": [{"bearerAuth": []}],
            "extra_plugins": [ProblemResponses()],
        },
    )
    app.register_blueprint(health_blueprint(readiness))
    app.register_blueprint(docs_blueprint(title))
    install_metrics(app, title.lower(), metrics)
    install_authentication(app, verifier, PUBLIC_ENDPOINTS | (public_endpoints or set()))

    @app.before_request
    def _correlate() -> None:
        raw = request.headers.get(CORRELATION_HEADER, "")
        try:
            correlation = uuid.UUID(raw)
        except ValueError:
            correlation = uuid.uuid4()
        g.correlation_token = current_correlation_id.set(correlation)

    @app.teardown_request
    def _forget_correlation(_error: BaseException | None) -> None:
        # The thread serves other requests next: neither they nor its logs in between may inherit this one.
        token = g.pop("correlation_token", None)
        if token is not None:
            current_correlation_id.reset(token)

    @app.after_request
    def _echo_correlation(response: Response) -> Response:
        correlation = current_correlation_id.get()
        if correlation is not None:
            response.headers[CORRELATION_HEADER] = str(correlation)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        docs = request.endpoint is not None and request.endpoint.startswith("docs.")
        response.headers.setdefault(
            "Content-Security-Policy", DOCS_CONTENT_SECURITY_POLICY if docs else API_CONTENT_SECURITY_POLICY
        )
        return response

    return app, api
