"""Reports: aged balances, daily payments and revenue."""

from __future__ import annotations

from marshmallow import Schema, fields


class OutstandingQuery(Schema):
    clinic_id = fields.UUID(required=True)
    as_of = fields.Date(
        load_default=None, metadata={"description": "Age balances as of this day (default today)"}
    )


class PeriodQuery(Schema):
    clinic_id = fields.UUID(required=True)
    first_day = fields.Date(
        required=True, data_key="from", metadata={"description": "First day (clinic's calendar)"}
    )
    last_day = fields.Date(required=True, data_key="to", metadata={"description": "Last day, inclusive"})


class AgingRowSchema(Schema):
    patient_id = fields.UUID()
    payer_kind = fields.String()
    days_0_30_cents = fields.Integer(attribute="days_0_30")
    days_31_60_cents = fields.Integer(attribute="days_31_60")
    days_61_90_cents = fields.Integer(attribute="days_61_90")
    days_over_90_cents = fields.Integer(attribute="days_over_90")
    total_cents = fields.Integer(attribute="total")


class DailyPaymentsSchema(Schema):
    day = fields.Date()
    method = fields.String()
    count = fields.Integer()
    received_cents = fields.Integer()
    refunded_cents = fields.Integer()
    net_cents = fields.Integer()


class RevenueRowSchema(Schema):
    practitioner_id = fields.UUID(attribute="row.practitioner_id", allow_none=True)
    practitioner_name = fields.String()
    treatment_type_id = fields.UUID(attribute="row.treatment_type_id", allow_none=True)
    treatment_name = fields.String()
    lines = fields.Integer(attribute="row.lines", metadata={"description": "Invoice lines billed"})
    invoiced_cents = fields.Integer(
        attribute="row.invoiced_cents", metadata={"description": "Issued invoice lines, before tax"}
    )
    credited_cents = fields.Integer(
        attribute="row.credited_cents",
        metadata={"description": "What credit notes took back of those lines, before tax"},
    )
    amount_cents = fields.Integer(
        attribute="row.amount_cents",
        metadata={"description": "Revenue: invoiced_cents - credited_cents (voided invoices net to 0)"},
    )
