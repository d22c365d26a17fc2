"""Reading HTML forms with marshmallow, errors as sentences beside their fields, each form accepted once."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, redirect
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from web.adapters.api import ApiError
from web.entrypoints.i18n import gettext

FORM_TOKEN_FIELD = "form_token"  # noqa: S105 - a field name, not a secret
FORM_TOKEN_TTL_SECONDS = 6 * 3600
STORE_KEY = "web.store"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a message for the catalogues; it is translated when shown."""
    return message


@dataclass
class Form:
    """A submitted form: the values as typed (to show again) and one sentence per field in error."""

    values: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, gettext(message))


def parse_form(schema: Schema, formdata: MultiDict[str, str] | Mapping[str, Any]) -> Form:
    """Blank fields count as missing (so 'required' messages apply); marshmallow messages are translated."""
    values = {key: value.strip() if isinstance(value, str) else value for key, value in formdata.items()}
    values.pop("csrf_token", None)
    present = {key: value for key, value in values.items() if value != ""}
    form = Form(values=values)
    try:
        form.data = schema.load(present, unknown="exclude")
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        for name, reasons in messages.items():
            reason = reasons[0] if isinstance(reasons, list) and reasons else reasons
            form.error(str(name), str(reason))
    return form


def apply_api_error(
    form: Form, error: ApiError, fields: Mapping[str, tuple[str, str]], fallback: str
) -> None:
    """Put the API's complaint next to the form field it concerns.

    ``fields`` maps an API field to (form field, sentence). The API's own wording is English written for
    developers, so the page says it in its own words, in the reader's language.
    """
    placed = False
    for api_field in error.fields:
        target = fields.get(api_field) or fields.get(api_field.split(".")[0])
        if target:
            form.error(*target)
            placed = True
    if not placed:
        form.error("_form", fallback)


def new_form_token() -> str:
    return secrets.token_urlsafe(16)


def submit_once(token: str | None, action: Callable[[], Response], *, already_done: str) -> Response:
    """Run ``action`` for the first submission of a rendered form only.

    A repeat (double click, back-and-resubmit, a retried request) is sent where the first one went, so
    a booking or a payment is never made twice from one form. A form that failed may be submitted again.
    """
    store = current_app.extensions[STORE_KEY]
    if not token:
        return action()
    key = f"form:{token}"
    previous = store.claim(key, "", FORM_TOKEN_TTL_SECONDS)
    if previous is not None:
        return redirect(previous or already_done, 303)
    try:
        response = action()
    except BaseException:
        store.delete(key)
        raise
    if 300 <= response.status_code < 400 and response.location:
        store.save(key, response.location, FORM_TOKEN_TTL_SECONDS)
    else:
        store.delete(key)
    return response
