"""Request and response schemas, one module per concept: they validate input and generate the OpenAPI
document.

Unknown fields in a request body are rejected (marshmallow's default), so nothing can be mass-assigned.
Money travels as integer minor units (``amount_cents``) beside an ISO 4217 ``currency``, never as a float.
Import a schema from its module (``schemas.invoices``, ``schemas.payments`` ...); this package re-exports
nothing.
"""
