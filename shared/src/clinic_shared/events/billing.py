"""Contracts of the events billing publishes on the ``billing.events`` exchange.

Money is integer minor units (``*_cents``) beside an ISO 4217 currency; never a float.
"""

from marshmallow import Schema, fields, validate

from clinic_shared.events.envelope import CATALOG

PAYER_KINDS = ("patient", "worksafebc", "icbc", "extended_health")
PAYMENT_METHODS = ("cash", "card", "e_transfer", "insurer", "patient_credit")

_CENTS = validate.Range(min=0)
_CURRENCY = validate.Regexp(r"^[A-Z]{3}$")


class _Contract(Schema):
    """Base for data schemas; the envelope helpers choose strict or lenient loading."""


@CATALOG.register("billing.invoice.issued", 1)
class InvoiceIssuedV1(_Contract):
    invoice_id = fields.UUID(required=True)
    number = fields.String(required=True)
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    payer_kind = fields.String(required=True, validate=validate.OneOf(PAYER_KINDS))
    total_cents = fields.Integer(required=True, strict=True, validate=_CENTS)
    balance_cents = fields.Integer(required=True, strict=True)
    currency = fields.String(required=True, validate=_CURRENCY)
    issued_at = fields.AwareDateTime(required=True, format="iso")
    due_date = fields.Date(required=True)
    # A signed, expiring link to the invoice's PDF that needs no sign-in (absent when billing has no
    # public URL or link secret configured). Added after v1 shipped, hence optional.
    document_url = fields.Url(
        load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"}
    )
    document_expires_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


class _Allocation(_Contract):
    invoice_id = fields.UUID(required=True)
    amount_cents = fields.Integer(required=True, strict=True, validate=_CENTS)


@CATALOG.register("billing.payment.received", 1)
class PaymentReceivedV1(_Contract):
    payment_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    amount_cents = fields.Integer(required=True, strict=True, validate=_CENTS)
    currency = fields.String(required=True, validate=_CURRENCY)
    method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    received_at = fields.AwareDateTime(required=True, format="iso")
    allocations = fields.List(fields.Nested(_Allocation), required=True)


@CATALOG.register("billing.credit_note.issued", 1)
class CreditNoteIssuedV1(_Contract):
    credit_note_id = fields.UUID(required=True)
    number = fields.String(required=True)
    invoice_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    amount_cents = fields.Integer(required=True, strict=True, validate=_CENTS)
    currency = fields.String(required=True, validate=_CURRENCY)
    issued_at = fields.AwareDateTime(required=True, format="iso")
    voids_invoice = fields.Boolean(required=True)
