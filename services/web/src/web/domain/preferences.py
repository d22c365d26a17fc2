"""A patient's contact preferences as the portal reads and changes them (plain rules; no Flask).

Notifications holds the choices: e-mail and SMS for appointment messages (on unless the patient said no),
the language of messages, and express consent to promotional e-mail (off unless the patient said yes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Choices:
    email: bool
    sms: bool
    language: str
    promotional: bool

    def without_sms(self) -> Choices:
        return replace(self, sms=False)


@dataclass(frozen=True)
class Preferences:
    """What the page shows: the choices, and whether texts can reach the patient at all."""

    choices: Choices
    has_mobile: bool  # notifications knows a mobile number
    sms_stopped: bool  # the patient said no to texts (here, or by replying STOP)

    @property
    def texts_on(self) -> bool:
        return self.has_mobile and not self.sms_stopped

    @property
    def no_channel(self) -> bool:
        """Neither e-mail nor texts: the patient hears about no appointment from us."""
        return not self.choices.email and not self.texts_on


def from_api(body: dict[str, object], phone: str | None) -> Preferences:
    """Notifications' preferences (GET /contacts/{id}/preferences) and the contact's phone."""
    sms_stopped = body.get("sms_opted_out_at") is not None
    return Preferences(
        choices=Choices(
            email=bool(body["email"]),
            sms=not sms_stopped,
            language=str(body["language"]),
            promotional=bool(body["promotional"]),
        ),
        has_mobile=bool(phone),
        sms_stopped=sms_stopped,
    )


def chosen(
    current: Preferences, *, email: bool, sms: bool | None, language: str, promotional: bool
) -> Choices:
    """The new choices from the form; ``sms`` is None when the form had no SMS box (no mobile number on
    file), and then the SMS choice is left as it was rather than recorded as a refusal."""
    return Choices(
        email=email,
        sms=current.choices.sms if sms is None else sms,
        language=language,
        promotional=promotional,
    )


def pending_choices(pending: object) -> Choices | None:
    """The consent given at sign-up (``{"email": bool, "sms": bool}``), or None if there is none to apply.

    Its language is the one the patient registered with, so it is left alone (None in the API call).
    """
    if not isinstance(pending, dict):
        return None
    return Choices(
        email=bool(pending.get("email")), sms=bool(pending.get("sms")), language="", promotional=False
    )
