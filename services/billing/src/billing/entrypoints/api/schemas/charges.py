"""Charges for appointments and fees, what a fee would come to, and waiving a charge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from billing.domain.model import Charge, ChargeKind, ChargeStatus
from clinic_shared.web.fast_dump import FastDumpSchema


def _amount_cents(charge: Charge) -> Any:
    return charge.amount.cents if charge.amount is not None else None


def _currency(charge: Charge) -> Any:
    return charge.amount.currency if charge.amount is not None else None


class ChargeSchema(FastDumpSchema):
    id = fields.UUID()
    kind = fields.Enum(ChargeKind, by_value=True)
    status = fields.Enum(ChargeStatus, by_value=True)
    appointment_id = fields.UUID()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    practitioner_id = fields.UUID()
    treatment_type_id = fields.UUID()
    starts_at = fields.AwareDateTime(format="iso")
    service_date = fields.Date(metadata={"description": "The appointment's date in the clinic's calendar"})
    amount_cents = fields.Function(
        _amount_cents,
        metadata={"type": "integer", "nullable": True, "description": "null while no price is on file"},
    )
    currency = fields.Function(_currency, metadata={"type": "string", "nullable": True})
    needs_price = fields.Boolean(metadata={"description": "No price was on file for the service date"})
    late_cancellation = fields.Boolean()
    tax_rate_bp = fields.Integer(metadata={"description": "Tax in basis points (500 = 5%)"})
    invoice_id = fields.UUID(allow_none=True)
    waived_reason = fields.String(allow_none=True)
    waived_by = fields.UUID(allow_none=True)
    waived_at = fields.AwareDateTime(format="iso", allow_none=True)
    package_id = fields.UUID(allow_none=True, metadata={"description": "The package a prepaid session drew"})
    aborted_at = fields.AwareDateTime(format="iso", allow_none=True)
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")


class ChargeQuery(Schema):
    patient_id = fields.UUID(load_default=None, metadata={"description": "Staff only: filter by patient"})
    appointment_id = fields.UUID(load_default=None)
    clinic_id = fields.UUID(load_default=None)
    status = fields.Enum(ChargeStatus, by_value=True, load_default=None)
    needs_price = fields.Boolean(load_default=None, metadata={"description": "Only charges without a price"})


class FeeQuoteQuery(Schema):
    appointment_id = fields.UUID(required=True)
    kind = fields.Enum(
        ChargeKind,
        by_value=True,
        load_default=ChargeKind.LATE_CANCEL_FEE,
        validate=validate.OneOf([kind for kind in ChargeKind if kind.is_fee], error="must be a fee kind"),
        metadata={"description": "late_cancel_fee (default) or no_show_fee"},
    )


def _cents(name: str) -> fields.Function:
    """An optional Money attribute of a quote as integer cents (null when there is no amount)."""

    def cents(quote: Any) -> Any:
        money = getattr(quote, name)
        return money.cents if money is not None else None

    return fields.Function(cents, metadata={"type": "integer", "nullable": True})


class FeeQuoteSchema(Schema):
    """What the fee would come to under the clinic's current policy; nothing is charged by asking.

    Amounts are null when the clinic charges no such fee, or when the fee is a percentage of a visit that
    has no price yet.
    """

    kind = fields.Enum(ChargeKind, by_value=True)
    charged = fields.Boolean(metadata={"description": "false: the clinic charges no such fee"})
    currency = fields.String(allow_none=True)
    amount_cents = _cents("amount")
    tax_cents = _cents("tax")
    total_cents = _cents("total")


class WaiveRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
