"""Integration events: one envelope, versioned data contracts, and the catalog that knows them all."""

# Importing the contract modules registers their schemas in CATALOG.
from clinic_shared.events import billing, notifications, scheduling  # noqa: F401
from clinic_shared.events.commands import command_from
from clinic_shared.events.envelope import (
    CATALOG,
    Envelope,
    EventCatalog,
    EventContractError,
    dump_event,
    load_event,
    new_event,
)

__all__ = [
    "CATALOG",
    "Envelope",
    "EventCatalog",
    "EventContractError",
    "command_from",
    "dump_event",
    "load_event",
    "new_event",
]
