"""Commands made from events: a consumer's handler names the command; the event's data fills it."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from clinic_shared.events.envelope import Envelope, EventContractError

C = TypeVar("C")


def command_from(event: Envelope, command: type[C], /, **given: Any) -> C:
    """``command`` (a dataclass) filled from the event's data fields of the same names, and ``given``
    (facts the data does not carry, e.g. ``as_of=event.occurred_at``). Data the command does not take is
    left out; a field the command needs and the event lacks is a contract error (the message is
    dead-lettered, not retried)."""
    if not dataclasses.is_dataclass(command):
        raise TypeError(f"{command.__name__} is not a dataclass")
    names = {f.name for f in dataclasses.fields(command) if f.init} - given.keys()
    values = {name: event.data[name] for name in names if name in event.data}
    try:
        return command(**values, **given)
    except TypeError as exc:
        raise EventContractError(f"{event.type}: {exc}") from None
