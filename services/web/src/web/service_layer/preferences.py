"""Preferences: how the patient wants to hear from the clinic, read from and saved to the services.

Notifications holds the channel choices and the consents (and keeps a record of every change); scheduling
holds the patient's language, which notifications copies from it. So a language change is made in
scheduling, and notifications is told to use the language "as registered" (``language: null``), which
keeps the two from ever disagreeing.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from web.domain.preferences import Choices, Preferences, from_api, pending_choices
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis, Unavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Loaded:
    preferences: Preferences
    phone: str | None


def _ids(credentials: Credentials) -> tuple[str, str]:
    assert credentials.patient_id is not None, "a patient's page"
    return credentials.access_token, credentials.patient_id


def load(apis: Apis, credentials: Credentials) -> Loaded | None:
    """The patient's preferences, or None while notifications has not yet received their contact details
    (for a moment after signing up)."""
    token, patient_id = _ids(credentials)
    try:
        body = apis.notifications.get(f"/contacts/{patient_id}/preferences", token=token)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    patient = apis.scheduling.get(f"/patients/{patient_id}", token=token)
    body = dict(body) | {"language": patient.get("language") or body["language"]}
    return Loaded(from_api(body, patient.get("phone")), patient.get("phone"))


def _put(apis: Apis, token: str, patient_id: str, choices: Choices) -> None:
    apis.notifications.put(
        f"/contacts/{patient_id}/preferences",
        token=token,
        json={
            "email": choices.email,
            "sms": choices.sms,
            "language": None,  # as registered in scheduling (see the module's docstring)
            "promotional": choices.promotional,
        },
    )


def save(apis: Apis, credentials: Credentials, current: Preferences, chosen: Choices) -> None:
    """Save the choices; a new language is the patient's language in scheduling (their messages follow)."""
    token, patient_id = _ids(credentials)
    if chosen.language != current.choices.language:
        apis.scheduling.patch(f"/patients/{patient_id}", token=token, json={"language": chosen.language})
    _put(apis, token, patient_id, chosen)


def stop_texts(apis: Apis, credentials: Credentials) -> bool:
    """No more text messages, whatever else was chosen (the one-click stop); the rest stays as it is.

    False while notifications does not know the patient yet (nothing is sent to them before it does).
    """
    token, patient_id = _ids(credentials)
    loaded = load(apis, credentials)
    if loaded is None:
        return False
    _put(apis, token, patient_id, loaded.preferences.choices.without_sms())
    return True


def apply_pending_consent(apis: Apis, credentials: Credentials, pending: object) -> bool:
    """Record the consent given at sign-up (``session["pending_consent"]``); True once it is recorded (or
    there was none), so the caller can forget it; False to try again on a later page.

    Notifications accepts the patient's choices even before their contact details reach it from
    scheduling (it answers 202 and applies them when the details arrive), so the first call after sign-up
    normally succeeds. A failure never breaks the page that calls this.
    """
    choices = pending_choices(pending)
    if choices is None or credentials.patient_id is None:
        return True
    token, patient_id = _ids(credentials)
    try:
        _put(apis, token, patient_id, choices)
    except (ApiError, Unavailable) as error:
        log.warning("sign-up consent not recorded yet", error=str(error))
        return False
    return True
