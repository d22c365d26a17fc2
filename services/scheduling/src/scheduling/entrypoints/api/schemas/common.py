"""Field validators and help texts shared by several schema modules."""

from __future__ import annotations

from marshmallow import validate

E164 = validate.Regexp(r"^\+[1-9]\d{7,14}$", error="must be an E.164 phone number such as +16045550123")
LANGUAGES = validate.OneOf(["en", "fr"])

WEEKDAY_HELP = "0 = Monday ... 6 = Sunday"
LOCAL_TIME_HELP = "local wall-clock time in the clinic's zone, HH:MM"
