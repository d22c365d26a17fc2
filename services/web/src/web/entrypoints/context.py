"""What a view needs from the app: the API clients, the token verifier, and who is signed in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, make_response, redirect, render_template, request, url_for

from clinic_shared.tokens import TokenVerifier
from web.adapters.api import Apis
from web.service_layer.accounts import Credentials

APIS_KEY = "web.apis"
VERIFIER_KEY = "web.verifier"
F = TypeVar("F", bound=Callable[..., Any])


def apis() -> Apis:
    return current_app.extensions[APIS_KEY]  # type: ignore[no-any-return]


def verifier() -> TokenVerifier:
    return current_app.extensions[VERIFIER_KEY]  # type: ignore[no-any-return]


def credentials() -> Credentials | None:
    return g.get("credentials")


def signed_in() -> Credentials:
    """The signed-in user's credentials (views decorated with ``patient_required`` always have them)."""
    found = credentials()
    assert found is not None, "view is missing @patient_required"
    return found


def sign_in_url() -> str:
    """The sign-in page, coming back here afterwards (and saying why, when the session just ended)."""
    ended = {"ended": 1} if g.get("session_ended") else {}
    return url_for("account.login", next=request.full_path.rstrip("?"), **ended)


def patient_required(view: F) -> F:
    """Send anyone not signed in as a patient to the sign-in page, coming back here afterwards."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        found = credentials()
        if found is None:
            return redirect(sign_in_url(), 303)
        if not found.is_patient:
            # Staff signed in: the portal's pages are not theirs (and sign-in would send them back here).
            return forbidden()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def forbidden() -> Any:
    """A plain page saying this is not for the signed-in person's role (403), with the way to theirs."""
    return make_response(render_template("errors/forbidden.html"), 403)


def staff_required(*roles: str) -> Callable[[F], F]:
    """Staff pages: anyone not signed in goes to sign in; a patient, or staff without one of ``roles``
    (any staff role when none is named), gets the 403 page. Scheduling checks again on every call."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            found = credentials()
            if found is None:
                return redirect(sign_in_url(), 303)
            if not found.is_staff or (roles and not set(roles) & set(found.roles)):
                return forbidden()
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
