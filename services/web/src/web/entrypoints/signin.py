"""Who is signed in to this browser session, and keeping their access token fresh.

The tokens live in the session store under their own key, apart from the session's other values, so a
request that saves the session (a language switch, a CSRF token) can never write back an older refresh
token. Refresh tokens are single-use and a reused one revokes the whole sign-in, so at most one request of
a session refreshes at a time (an atomic claim in the store); the others carry on with the access token
they have, which is still valid for the refresh margin, or wait briefly for the new one.
"""

from __future__ import annotations

import time

from flask import current_app, g, session

from web.adapters.sessions import ServerSessionInterface, SessionStore
from web.entrypoints.context import apis, verifier
from web.entrypoints.forms import STORE_KEY
from web.service_layer import accounts
from web.service_layer.accounts import Credentials

CREDENTIALS_PREFIX = "credentials:"
REFRESH_LOCK_PREFIX = "refresh-lock:"
REFRESH_LOCK_SECONDS = 10
WAIT_FOR_OTHER_REFRESH_SECONDS = 5.0


def _store() -> SessionStore:
    return current_app.extensions[STORE_KEY]  # type: ignore[no-any-return]


def _ttl() -> int:
    interface = current_app.session_interface
    assert isinstance(interface, ServerSessionInterface)
    return interface.ttl_seconds


def _sid() -> str:
    return session.sid  # type: ignore[attr-defined, no-any-return]


def remember(signed: Credentials) -> None:
    """Start a signed-in session under a new id (an id planted before sign-in opens nothing after)."""
    _store().delete(CREDENTIALS_PREFIX + _sid())
    session.regenerate()  # type: ignore[attr-defined]
    store_credentials(_sid(), signed)
    session["signed_in"] = True  # keeps the session (and its cookie) alive
    g.credentials = signed


def store_credentials(sid: str, signed: Credentials) -> None:
    """Keep ``signed`` as the credentials of session ``sid`` (needs an app context)."""
    _store().save(CREDENTIALS_PREFIX + sid, signed.to_session(), _ttl())


def forget() -> None:
    _store().delete(CREDENTIALS_PREFIX + _sid())
    session.pop("signed_in", None)
    g.credentials = None


def _stored() -> Credentials | None:
    data = _store().load(CREDENTIALS_PREFIX + _sid())
    return Credentials.from_session(data) if data else None


def current() -> Credentials | None:
    """This session's credentials, refreshed first if the access token is about to run out."""
    if not session.get("signed_in"):
        return None
    credentials = _stored()
    if credentials is None:
        session.pop("signed_in", None)
        return None
    now = time.time()
    if not credentials.needs_refresh(now):
        return credentials
    lock = REFRESH_LOCK_PREFIX + _sid()
    if _store().claim(lock, "", REFRESH_LOCK_SECONDS) is not None:
        return _after_other_refresh(credentials)
    try:
        fresh = accounts.refresh(apis(), verifier(), credentials)
    except accounts.SessionEnded:
        forget()
        g.session_ended = True
        return None
    finally:
        _store().delete(lock)
    store_credentials(_sid(), fresh)
    return fresh


def _after_other_refresh(credentials: Credentials) -> Credentials | None:
    """Another request of this session is refreshing: use the token in hand while it is valid."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_REFRESH_SECONDS
    while credentials.access_expires_at <= time.time() + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        newer = _stored()
        if newer is None:
            return None
        credentials = newer
    return credentials
