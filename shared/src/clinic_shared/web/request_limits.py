"""The limits every request body meets before a schema sees it, the same in every service.

A body larger than ``MAX_BODY_BYTES`` is refused with 413 before it is read whole; a JSON body nested deeper
than ``MAX_JSON_DEPTH`` is refused with 400 (parsing a 1,000-level document would exhaust the recursion
limit and end in a 500); a text value carrying a NUL character is refused with 422 naming its field
(PostgreSQL cannot store one). Every API blueprint parses with ``LimitedParser`` by being a
``clinic_shared.web.Blueprint``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from clinic_shared.web.problems import Problem

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
TOO_DEEP = f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep"
F = TypeVar("F", bound=Callable[..., Any])


def checked_before_parsing(check: Callable[..., None], *, max_bytes: int) -> Callable[[F], F]:
    """Run ``check`` (given the URL's arguments; it raises to refuse) before the body is parsed, and refuse
    bodies over ``max_bytes`` with 413: a public webhook reads nothing a stranger sends beyond that."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            flask.request.max_content_length = max_bytes
            check(**kwargs)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def _check(document: Any) -> None:
    """Depth and NUL characters, walked without recursion (the document may be hostile)."""
    pending: list[tuple[Any, str, int]] = [(document, "", 1)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise Problem.for_field(400, "_schema", TOO_DEEP)
        if isinstance(value, str):
            if "\x00" in value:
                raise Problem.for_field(422, path or "_schema", "must not contain NUL characters")
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    raise Problem.for_field(422, path or "_schema", "field names must not contain NUL")
                pending.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            pending.extend(
                (item, f"{path}.{index}" if path else str(index), depth + 1)
                for index, item in enumerate(value)
            )


class LimitedParser(FlaskParser):
    """webargs' Flask parser, refusing over-deep JSON and NUL characters with a problem naming the field."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        try:
            document = core.parse_json(req.get_data(cache=True))
        except RecursionError:
            raise Problem.for_field(400, "_schema", TOO_DEEP) from None
        _check(document)
        return document


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the shared request limits."""

    ARGUMENTS_PARSER = LimitedParser()
