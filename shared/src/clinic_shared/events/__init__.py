"""Integration events: one envelope, versioned data contracts, and the catalog that knows them all."""

from clinic_shared.events.envelope import (
    CATALOG,
    Envelope,
    EventCatalog,
    EventContractError,
    dump_event,
    load_event,
    new_event,
)

# Importing the contract modules registers their schemas in CATALOG.
from clinic_shared.events import scheduling  # noqa: E402,F401

__all__ = [
    "CATALOG",
    "Envelope",
    "EventCatalog",
    "EventContractError",
    "dump_event",
    "load_event",
    "new_event",
]
