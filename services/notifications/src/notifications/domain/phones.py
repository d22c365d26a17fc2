"""Phone numbers in E.164 (``+16045550100``), the only form an SMS provider is given.

Numbers written without a country code are read as Canadian (the clinics are in British Columbia).
"""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "CA"


def to_e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164, or None when it is missing or not a valid number."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
