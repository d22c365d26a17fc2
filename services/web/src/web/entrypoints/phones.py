"""Phone numbers typed the way people type them, stored as E.164 (what SMS providers need)."""

from __future__ import annotations

import phonenumbers

# Where the clinics' patients mostly live; the number is read as a local number of the chosen country.
COUNTRIES = [("CA", "+1"), ("US", "+1"), ("FR", "+33"), ("GB", "+44"), ("AU", "+61"), ("IN", "+91")]


def e164(typed: str, country: str) -> str | None:
    """'604 555 0123' in CA -> '+16045550123'; None when it is not a possible number there."""
    try:
        number = phonenumbers.parse(typed, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def readable(number: str) -> str:
    """'+16045550199' -> '+1 604-555-0199', the way people read and dial it."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
