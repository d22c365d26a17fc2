"""The channels a message goes out on, and which e-mail addresses can receive one."""

from __future__ import annotations

import enum

# RFC 2606 reserves the top-level domain .invalid: no mail can ever be delivered there. Scheduling erases a
# patient (PIPA BC / PIPEDA) by giving them such an address (erased-<patient id>@erased.invalid).
UNDELIVERABLE_TLD = ".invalid"


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


def email_deliverable(address: str | None) -> bool:
    """False for no address and for one in a reserved, undeliverable domain (an erased patient's)."""
    if not address:
        return False
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    return not (domain == UNDELIVERABLE_TLD[1:] or domain.endswith(UNDELIVERABLE_TLD))
