"""Idempotency-Key plumbing for views: fingerprint the request, render once, replay the stored response."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Response, request
from marshmallow import Schema

from billing.service_layer.invoicing import IdempotentRequest, Outcome
from clinic_shared.web.auth import current_principal

REPLAYED_HEADER = "Idempotent-Replayed"


def idempotent_request(headers: dict[str, Any]) -> IdempotentRequest:
    """The caller, its key, and a digest of what it asked (method, path and the JSON body as sent)."""
    body = request.get_json(silent=True)
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, separators=(",", ":"))
    return IdempotentRequest(
        account_id=current_principal().account_id,
        key=headers["idempotency_key"],
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def renderer(schema: Schema, status_code: int) -> Callable[[Any], tuple[int, Any]]:
    """Dump the result to JSON-ready data (stored with the key, so a replay is byte-for-byte the same)."""
    return lambda result: (status_code, schema.dump(result))


def respond(outcome: Outcome) -> Response:
    response = Response(
        json.dumps(outcome.body, separators=(",", ":")),
        status=outcome.status_code,
        mimetype="application/json",
    )
    response.headers[REPLAYED_HEADER] = "true" if outcome.replayed else "false"
    return response
