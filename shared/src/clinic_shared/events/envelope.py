"""The single event envelope and the catalog of versioned data schemas.

Producers dump strictly (an unknown or missing field is a programming error, raised before anything is
stored); consumers load leniently (unknown fields are ignored) so a producer may add optional fields
without breaking anyone. A breaking change is a new version registered beside the old one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate


class EventContractError(ValueError):
    """A message does not match the envelope or its data schema; it can never succeed."""


@dataclass(frozen=True)
class Envelope:
    """One integration event as it travels between services."""

    id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    data: Mapping[str, Any] = field(default_factory=dict)


class _EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=3, max=200))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, format="iso")
    producer = fields.String(required=True, validate=validate.Length(min=1, max=100))
    correlation_id = fields.UUID(required=True)
    causation_id = fields.UUID(required=True, allow_none=True)
    data = fields.Dict(required=True, keys=fields.String())


_ENVELOPE = _EnvelopeSchema()


class EventCatalog:
    """Maps (type, version) to the marshmallow schema of its data."""

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, int], type[Schema]] = {}
        # Types whose data carries a credential (e.g. a password-reset token): see ``secret_types``.
        self._secret_types: set[str] = set()
        # Schema instances are stateless between load/dump calls, so one per (type, version, strictness)
        # serves every thread; building one deep-copies all its fields, a cost paid on each event otherwise.
        self._instances: dict[tuple[str, int, bool], Schema] = {}

    def register(
        self, event_type: str, version: int, *, carries_secret: bool = False
    ) -> Callable[[type[Schema]], type[Schema]]:
        """Register a data schema; ``carries_secret`` marks a type whose data is a credential."""

        def decorator(schema_cls: type[Schema]) -> type[Schema]:
            key = (event_type, version)
            if key in self._schemas:
                raise ValueError(f"{event_type} v{version} is registered twice")
            self._schemas[key] = schema_cls
            if carries_secret:
                self._secret_types.add(event_type)
            return schema_cls

        return decorator

    def secret_types(self) -> frozenset[str]:
        """Event types whose data carries a credential: stored copies must not outlive their use (the outbox
        relay empties such a row's body once the broker has confirmed it)."""
        return frozenset(self._secret_types)

    def schema(self, event_type: str, version: int, *, strict: bool) -> Schema:
        instance = self._instances.get((event_type, version, strict))
        if instance is None:
            try:
                schema_cls = self._schemas[(event_type, version)]
            except KeyError:
                raise EventContractError(f"unknown event {event_type} v{version}") from None
            instance = self._instances[(event_type, version, strict)] = schema_cls(
                unknown=RAISE if strict else EXCLUDE
            )
        return instance

    def latest_version(self, event_type: str) -> int:
        versions = [v for (t, v) in self._schemas if t == event_type]
        if not versions:
            raise EventContractError(f"unknown event type {event_type}")
        return max(versions)

    def entries(self) -> list[tuple[str, int]]:
        return sorted(self._schemas)


CATALOG = EventCatalog()


def new_event(
    event_type: str,
    data: Mapping[str, Any],
    *,
    producer: str,
    occurred_at: datetime,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    version: int | None = None,
    event_id: uuid.UUID | None = None,
    catalog: EventCatalog = CATALOG,
) -> Envelope:
    """Build an envelope, validating ``data`` strictly against its contract."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    version = version or catalog.latest_version(event_type)
    schema = catalog.schema(event_type, version, strict=True)
    unknown = set(data) - set(schema.fields)
    if unknown:
        raise EventContractError(f"{event_type} v{version}: unknown fields {sorted(unknown)}")
    dumped = schema.dump(data)
    try:
        loaded = schema.load(dumped)
    except ValidationError as exc:
        raise EventContractError(f"{event_type} v{version}: {exc.messages}") from None
    event_id = event_id or uuid.uuid4()
    return Envelope(
        id=event_id,
        type=event_type,
        version=version,
        occurred_at=occurred_at.astimezone(UTC),
        producer=producer,
        correlation_id=correlation_id or event_id,
        causation_id=causation_id,
        data=loaded,
    )


def envelope_to_dict(envelope: Envelope, catalog: EventCatalog = CATALOG) -> dict[str, Any]:
    """JSON-ready form of an envelope (data dumped through its schema)."""
    schema = catalog.schema(envelope.type, envelope.version, strict=True)
    return {
        "id": str(envelope.id),
        "type": envelope.type,
        "version": envelope.version,
        "occurred_at": envelope.occurred_at.astimezone(UTC).isoformat(),
        "producer": envelope.producer,
        "correlation_id": str(envelope.correlation_id),
        "causation_id": str(envelope.causation_id) if envelope.causation_id else None,
        "data": schema.dump(envelope.data),
    }


def dump_event(envelope: Envelope, catalog: EventCatalog = CATALOG) -> bytes:
    """Serialize an envelope to the bytes that go on the wire."""
    return json.dumps(envelope_to_dict(envelope, catalog), separators=(",", ":")).encode()


def load_event(body: bytes | str | Mapping[str, Any], catalog: EventCatalog = CATALOG) -> Envelope:
    """Parse wire bytes into an envelope; raises EventContractError for anything malformed."""
    try:
        raw = json.loads(body) if isinstance(body, bytes | str) else dict(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventContractError(f"body is not JSON: {exc.__class__.__name__}") from None
    if not isinstance(raw, dict):
        raise EventContractError("body is not a JSON object")
    try:
        head = _ENVELOPE.load(raw)
    except ValidationError as exc:
        raise EventContractError(f"bad envelope: {exc.messages}") from None
    schema = catalog.schema(head["type"], head["version"], strict=False)
    try:
        data = schema.load(head["data"])
    except ValidationError as exc:
        raise EventContractError(f"bad data for {head['type']} v{head['version']}: {exc.messages}") from None
    return Envelope(
        id=head["id"],
        type=head["type"],
        version=head["version"],
        occurred_at=head["occurred_at"].astimezone(UTC),
        producer=head["producer"],
        correlation_id=head["correlation_id"],
        causation_id=head["causation_id"],
        data=data,
    )
