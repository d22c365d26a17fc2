"""Errors as RFC 9457 problem details (``application/problem+json``), with offending fields named.

Every error a client can see goes through here: validation failures from marshmallow/webargs, HTTP
errors, domain errors mapped by each service, and unexpected exceptions (a bare 500, no traceback).
"""

from __future__ import annotations

import re
import traceback
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import structlog
from flask import Flask, Response, json, request
from marshmallow import INCLUDE, Schema, fields
from werkzeug.exceptions import HTTPException, InternalServerError

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = structlog.get_logger(__name__)


class InvalidParamSchema(Schema):
    name = fields.String(metadata={"description": "Dotted path of the offending field"})
    location = fields.String(metadata={"description": "json, query, path, headers"})
    reason = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details (documentation only). Extension members are allowed (RFC 9457 section 3.2:
    e.g. ``reason`` of a refused sign-in, ``conflicting_appointment_id``), so the document says so."""

    class Meta:
        unknown = INCLUDE  # additionalProperties: true

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    invalid_params = fields.List(fields.Nested(InvalidParamSchema), data_key="invalid-params")


class Problem(Exception):
    """An error to be rendered as a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        invalid_params: list[dict[str, str]] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.invalid_params = invalid_params or []
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    @classmethod
    def for_field(cls, status: int, field: str, reason: str, title: str = "Invalid request") -> Problem:
        return cls(
            status, title, reason, invalid_params=[{"name": field, "location": "json", "reason": reason}]
        )


def flatten_messages(messages: Any, location: str, prefix: str = "") -> Iterator[dict[str, str]]:
    """Turn marshmallow's nested error dict into a flat list naming each field by its dotted path."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from flatten_messages(value, location, name)
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        for message in messages:
            yield {"name": prefix or "_schema", "location": location, "reason": message}
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            yield from flatten_messages(value, location, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield {"name": prefix or "_schema", "location": location, "reason": str(messages)}


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "instance": request.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.invalid_params:
        body["invalid-params"] = problem.invalid_params
    body.update(problem.extra)
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def problem_from_http_exception(error: HTTPException) -> Problem:
    data = getattr(error, "data", None) or {}
    invalid: list[dict[str, str]] = []
    messages = data.get("messages") or data.get("errors")
    if isinstance(messages, Mapping):
        for location, location_messages in messages.items():
            invalid.extend(flatten_messages(location_messages, str(location)))
    detail = data.get("message") or (
        "The request has invalid fields." if invalid else (error.description if error.code != 500 else None)
    )
    status = error.code or 500
    return Problem(status, error.name, detail, invalid_params=invalid, headers=data.get("headers"))


def register_problem_handlers(app: Flask) -> None:
    """Install the handlers that render every error as a problem document."""

    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        return problem_response(problem_from_http_exception(error))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # Frames only: exception messages can quote SQL parameters, i.e. patient data.
        frames = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        log.error(
            "unhandled_error",
            route=_route_for_logs(),
            error_type=type(error).__name__,
            frames=frames,
        )
        return problem_response(problem_from_http_exception(InternalServerError()))


def _route_for_logs() -> str:
    """The route with its id arguments filled in and anything else left as a placeholder.

    Some paths carry credentials (signed document links, calendar feed tokens), so the raw path is never
    logged; ids (UUIDs) are kept because they are what an engineer needs to follow the request.
    """
    rule = request.url_rule
    if rule is None:
        return "<unmatched route>"
    route = rule.rule
    for name, value in (request.view_args or {}).items():
        if isinstance(value, uuid.UUID):
            route = re.sub(rf"<(?:[^:<>]+:)?{re.escape(name)}>", str(value), route)
    return route


def _location_of(field: str) -> str:
    """Where the request carried ``field``: its path, its query string, or else its JSON body."""
    top = field.split(".", 1)[0]
    if top in (request.view_args or {}):
        return "path"
    if top in request.args:
        return "query"
    return "json"


def map_exception(app: Flask, exc_type: type[Exception], status: int, title: str) -> None:
    """Render a domain exception as a problem with the given status; its message becomes the detail.

    A domain exception may carry ``field`` (a dotted field name) to be reported in invalid-params, located
    in the path, the query string or the JSON body, wherever the request carried it.
    """

    def _handler(error: Exception) -> Response:
        field = getattr(error, "field", None)
        params = [{"name": field, "location": _location_of(field), "reason": str(error)}] if field else None
        extra = getattr(error, "problem_extra", None)
        return problem_response(Problem(status, title, str(error), invalid_params=params, extra=extra))

    app.register_error_handler(exc_type, _handler)
