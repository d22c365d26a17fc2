"""A patient's coverage by a third-party payer, the days it is valid, and ending one."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.domain.invoicing import PayerKind
from billing.entrypoints.api.schemas.common import BASIS_POINTS, CURRENCY, MAX_CENTS
from clinic_shared.web.fast_dump import FastDumpSchema


class CoverageSchema(FastDumpSchema):
    """A WorkSafeBC claim, an ICBC claim or an extended health plan; required fields depend on the payer."""

    id = fields.UUID(dump_only=True)
    patient_id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(required=True)
    payer_kind = fields.Enum(
        PayerKind,
        by_value=True,
        required=True,
        metadata={"description": "worksafebc, icbc or extended_health"},
    )
    currency = fields.String(load_default="CAD", validate=CURRENCY)
    claim_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    date_of_injury = fields.Date(load_default=None, allow_none=True)
    employer_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    insurer_fee_cents = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_CENTS),
        metadata={"description": "ICBC: what the insurer pays per visit; the patient pays the excess"},
    )
    coverage_bp = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=BASIS_POINTS,
        metadata={"description": "Extended health: share covered (8000 = 80%)"},
    )
    per_visit_max_cents = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=MAX_CENTS)
    )
    annual_max_cents = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=MAX_CENTS)
    )
    policy_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    created_at = fields.AwareDateTime(format="iso", dump_only=True)


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
