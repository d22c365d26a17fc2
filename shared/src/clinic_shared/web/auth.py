"""Bearer-token authentication for Flask: every endpoint is protected unless explicitly marked public."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, g, request
from marshmallow import Schema, fields

from clinic_shared.tokens import KeysUnavailable, Principal, TokenError, TokenVerifier
from clinic_shared.web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])
_PUBLIC_ENDPOINTS = "clinic_public_endpoints"


class JwkSchema(Schema):
    """One public key as ``SigningKey.jwks`` publishes it (RFC 7517, an Ed25519 OKP key)."""

    kty = fields.String(required=True, metadata={"description": "Key type: `OKP`"})
    crv = fields.String(required=True, metadata={"description": "Curve: `Ed25519`"})
    x = fields.String(required=True, metadata={"description": "The public key, base64url"})
    kid = fields.String(required=True, metadata={"description": "Key id, named in each token's header"})
    alg = fields.String(required=True, metadata={"description": "`EdDSA`"})
    use = fields.String(required=True, metadata={"description": "`sig`"})


class JwksSchema(Schema):
    """The JSON Web Key Set that verifies the access tokens (served at ``/.well-known/jwks.json``)."""

    keys = fields.List(fields.Nested(JwkSchema), required=True)


def public(view: F) -> F:
    """Mark a view as reachable without a token (health, docs, JWKS, sign-up, token issuance, webhooks);
    its OpenAPI operation says so too (``security: []``), as flask-smorest's ``doc`` would."""
    view.__dict__["_clinic_public"] = True
    apidoc = view.__dict__.setdefault("_apidoc", {})
    apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), "security": []}
    return view


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="ims-clinic"'})


def install_authentication(app: Flask, verifier: TokenVerifier, public_endpoints: set[str]) -> None:
    """Verify the bearer token before every non-public request and store the Principal on ``g``."""
    app.extensions[_PUBLIC_ENDPOINTS] = set(public_endpoints)

    @app.before_request
    def _authenticate() -> None:
        endpoint = request.endpoint
        if endpoint is None:  # 404/405: let routing report it
            return
        view = app.view_functions.get(endpoint)
        if endpoint in app.extensions[_PUBLIC_ENDPOINTS] or getattr(view, "_clinic_public", False):
            return
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("A bearer token is required.")
        try:
            g.principal = verifier.verify(token.strip())
        except TokenError as exc:
            raise _unauthorized(str(exc)) from None
        except KeysUnavailable:
            raise Problem(
                503, "Service Unavailable", "Token keys are unavailable; try again shortly."
            ) from None


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise _unauthorized("A bearer token is required.")
    return principal


ROLES_EXTENSION = "x-roles"


def require_roles(*roles: str) -> Callable[[F], F]:
    """Allow the view only to callers holding one of ``roles``; others get 403. The OpenAPI operation
    names the roles (``x-roles``) and so documents the 403 (see ``ProblemResponses``)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_principal().has_any(roles):
                raise Problem(403, "Forbidden", "Your role does not allow this action.")
            return view(*args, **kwargs)

        apidoc = dict(getattr(view, "_apidoc", {}))  # wraps shares the view's dict; this one is new
        # Sorted: roles given from a frozenset document the same in every run.
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), ROLES_EXTENSION: sorted(roles)}
        wrapper.__dict__["_apidoc"] = apidoc
        return wrapper  # type: ignore[return-value]

    return decorator
