"""Commands filled from events' data by name (``command_from``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from clinic_shared.events import Envelope, EventContractError, command_from, new_event

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SyncTreatment:
    treatment_type_id: uuid.UUID
    name: str
    as_of: datetime
    active: bool = True


def treatment_changed(**data: object) -> Envelope:
    facts = {
        "treatment_type_id": uuid.uuid4(),
        "clinic_id": uuid.uuid4(),
        "code": "IMS30",
        "name": "IMS session",
        "kind": "treatment",
        "duration_minutes": 30,
        "active": False,
    }
    changed = facts | data
    return new_event("scheduling.treatment_type.changed", changed, producer="scheduling", occurred_at=NOW)


def test_the_command_takes_the_fields_it_names_and_what_is_given() -> None:
    event = treatment_changed()
    command = command_from(event, SyncTreatment, as_of=event.occurred_at)
    assert command == SyncTreatment(event.data["treatment_type_id"], "IMS session", NOW, active=False)


def test_what_is_given_wins_over_the_data() -> None:
    event = treatment_changed()
    command = command_from(event, SyncTreatment, as_of=NOW, name="given")
    assert command.name == "given"


def test_a_needed_fact_the_event_lacks_is_a_contract_error() -> None:
    event = treatment_changed()
    with pytest.raises(EventContractError, match="as_of"):
        command_from(event, SyncTreatment)


def test_only_dataclasses_are_commands() -> None:
    with pytest.raises(TypeError):
        command_from(treatment_changed(), dict)
