"""Validators, limits and the Idempotency-Key header shared by several schema modules."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 currency code such as CAD")
# A ceiling far above any treatment price that keeps amounts well inside 64-bit integers.
MAX_CENTS = 100_000_000
BASIS_POINTS = validate.Range(min=0, max=10_000)


class IdempotencyHeaders(Schema):
    """Every POST that moves money repeats safely under the same key (any unique string, e.g. a UUID)."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key", required=True, validate=validate.Length(min=1, max=255)
    )
