"""Request and response schemas, one module per concept: they validate input and generate the OpenAPI
document.

Unknown fields in a request body are rejected (marshmallow's default), so nothing can be mass-assigned.
Import a schema from its module (``schemas.appointments``, ``schemas.plans`` ...); this package re-exports
nothing.
"""
