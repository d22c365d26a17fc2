"""The limits every request meets before a view sees it, the same in every service.

A body larger than ``MAX_BODY_BYTES`` is refused with 413 before it is read whole; a JSON body nested deeper
than ``MAX_JSON_DEPTH`` is refused with 400 (parsing a 1,000-level document would exhaust the recursion
limit and end in a 500); a text value carrying a NUL character is refused with 422 naming its field
(PostgreSQL cannot store one); a body that is not JSON where JSON is expected is a 415. JSON values must
have the type their field declares (``"true"`` and ``1`` are not booleans, ``"5"`` is not a number), text
may not be only spaces, an e-mail address is at most 254 characters (RFC 5321), every date lies between
``EARLIEST`` and ``LATEST`` (a year-9999 date ends in an OverflowError as soon as a day is added to it), and
every integer fits in 32 bits (a page number beyond that overflows the database's OFFSET). Every API
blueprint parses with ``LimitedParser`` by being a ``clinic_shared.web.Blueprint``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import flask
import flask_smorest
import marshmallow as ma
from flask_smorest.pagination import PaginationParameters
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from clinic_shared.web.problems import Problem

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
TOO_DEEP = f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep"
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
MAX_INT = 2**31 - 1
MAX_EMAIL_LENGTH = 254
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


def _type_faults(schema: ma.Schema, document: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Where a JSON document's values do not have the type their schema's fields declare."""
    if not isinstance(document, Mapping):
        return
    for name, field in schema.fields.items():
        key = field.data_key or name
        if not field.dump_only and key in document:
            yield from _value_faults(field, document[key], f"{path}.{key}" if path else key)


def _value_faults(field: ma.fields.Field, value: Any, path: str) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(field, ma.fields.Boolean) and not isinstance(value, bool):
        yield path, "Not a valid boolean."
    elif isinstance(field, ma.fields.Integer | ma.fields.Float) and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        yield path, "Not a valid number."
    elif isinstance(field, ma.fields.String) and isinstance(value, str):
        if value and not value.strip():
            yield path, "Must not be only spaces."
        elif isinstance(field, ma.fields.Email) and len(value) > MAX_EMAIL_LENGTH:
            yield path, f"An e-mail address has at most {MAX_EMAIL_LENGTH} characters."
    elif isinstance(field, ma.fields.Nested) and isinstance(field.schema, ma.Schema):
        items = value if field.many and isinstance(value, list) else [value]
        for index, item in enumerate(items):
            yield from _type_faults(field.schema, item, f"{path}.{index}" if field.many else path)
    elif isinstance(field, ma.fields.List) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _value_faults(field.inner, item, f"{path}.{index}")


def _range_faults(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Dates outside EARLIEST..LATEST and integers beyond 32 bits, anywhere in parsed arguments."""
    if isinstance(value, datetime | date):
        day = value.date() if isinstance(value, datetime) else value
        if not EARLIEST <= day <= LATEST:
            yield path, f"Must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}."
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_INT:
            yield path, f"Must be at most {MAX_INT}."
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _range_faults(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _range_faults(item, f"{path}.{index}" if path else str(index))
    elif isinstance(value, PaginationParameters):
        yield from _range_faults({"page": value.page, "page_size": value.page_size}, path)


def _invalid(faults: list[tuple[str, str]], location: str) -> Problem:
    return Problem(
        422,
        "Invalid request",
        "Some fields are invalid.",
        invalid_params=[{"name": name, "location": location, "reason": reason} for name, reason in faults],
    )


class LimitedParser(FlaskParser):
    """webargs' Flask parser with the limits above, each refused with a problem naming the field."""

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        data = super().parse(argmap, req, location=location, **kwargs)
        faults = list(_range_faults(data))
        if faults:
            raise _invalid(faults, location or self.location)
        return data

    def pre_load(self, location_data: Any, *, schema: ma.Schema, req: Any, location: str) -> Any:
        if location == "json":
            faults = list(_type_faults(schema, location_data))
            if faults:
                raise _invalid(faults, location)
        return location_data

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            if req.get_data(cache=True):
                raise Problem(
                    415,
                    "Unsupported Media Type",
                    "Send the body as JSON, with Content-Type: application/json.",
                )
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
    PAGINATION_ARGUMENTS_PARSER = LimitedParser()
