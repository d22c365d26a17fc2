"""Idempotency-Key for the money-moving POSTs: the effect, the key and the response commit together.

The first request with a key does its work and stores the JSON response it produced with the key, in the
same transaction; a repeat of that request replays the stored response byte for byte (a concurrent
duplicate waits on the key's row, then replays); a repeat with another request under the same key is
refused. Keys are kept for a retention period (IDEMPOTENCY_KEY_RETENTION_HOURS) and then purged; a replay
after that is a new request. The use cases know nothing of this: a view hands ``run_once`` the work to do.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Response, request
from marshmallow import Schema

from billing.domain.errors import Conflict, RuleViolation
from billing.entrypoints.api.context import container
from billing.service_layer.ports import StoredResponse
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.web.auth import current_principal

T = TypeVar("T")
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class IdempotentRequest:
    """Who sent the request, its Idempotency-Key, and a fingerprint of its method, path and body."""

    account_id: uuid.UUID
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool


def run_once(
    headers: dict[str, Any],
    perform: Callable[[BillingUnitOfWork], Any],
    schema: Schema,
    status_code: int = 201,
) -> Response:
    """Do ``perform`` in a unit of work once per Idempotency-Key, commit, and answer (or replay)."""
    with container().uow() as uow:
        outcome = once(uow, idempotent_request(headers), lambda: perform(uow), renderer(schema, status_code))
        uow.commit()
    return respond(outcome)


def once(
    uow: BillingUnitOfWork,
    key: IdempotentRequest,
    perform: Callable[[], T],
    render: Callable[[T], tuple[int, Any]],
) -> Outcome:
    """Run ``perform`` once per key: its effect, the key and the rendered response are written together,
    for the caller to commit."""
    stored = uow.repo.stored_response(key.account_id, key.key)
    if stored is not None:
        return _replay(stored, key)
    try:
        with uow.conflicts_as(
            Conflict(f"a request with this {IDEMPOTENCY_HEADER} is in progress", field=IDEMPOTENCY_HEADER)
        ):
            uow.repo.claim_idempotency_key(key.account_id, key.key, key.fingerprint, uow.clock.now())
    except Conflict:
        # A concurrent request with this key committed first (we waited on its row lock).
        stored = uow.repo.stored_response(key.account_id, key.key)
        if stored is None:
            raise
        return _replay(stored, key)
    status_code, body = render(perform())
    uow.repo.store_response(key.account_id, key.key, status_code, body)
    return Outcome(status_code, body, replayed=False)


def _replay(stored: StoredResponse, key: IdempotentRequest) -> Outcome:
    if stored.fingerprint != key.fingerprint:
        raise RuleViolation(
            f"this {IDEMPOTENCY_HEADER} was used for a different request", field=IDEMPOTENCY_HEADER
        )
    return Outcome(stored.status_code, stored.body, replayed=True)


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
