"""Schemas of a patient's coverages with their days of validity, and of ending one (beside ``schemas``,
which is at its size ceiling)."""

from __future__ import annotations

from marshmallow import Schema, fields

from billing.entrypoints.api.schemas import CoverageSchema


class PatientCoverageSchema(CoverageSchema):
    """A coverage with the days it is valid: from its first day to its last (open while there is none)."""

    valid_from = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "Its first day; by default the date of injury, else the day it is added"},
    )
    valid_to = fields.Date(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Its last day (inclusive), once it is ended; none while it is open"},
    )


class EndCoverageRequest(Schema):
    valid_to = fields.Date(
        required=True,
        metadata={"description": "The coverage's last day (inclusive): not before its first day"},
    )
