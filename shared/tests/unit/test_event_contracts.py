"""Event contracts: one envelope, strict producers, lenient consumers, golden samples that keep loading."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinic_shared.events import CATALOG, EventContractError, dump_event, load_event, new_event

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "clinic_shared" / "events" / "samples"
NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


def sample_paths() -> list[Path]:
    return sorted(SAMPLES.glob("*.json"))


def clinic_data() -> dict[str, object]:
    return {
        "clinic_id": uuid.uuid4(),
        "code": "VAN",
        "name": "Vancouver IMS",
        "timezone": "America/Vancouver",
        "address": "1 Main St",
        "phone": "+16045550100",
        "email": "front@clinic.test",
        "currency": "CAD",
    }


def test_every_registered_event_version_has_a_golden_sample() -> None:
    names = {p.name for p in sample_paths()}
    missing = [f"{t}.v{v}.json" for t, v in CATALOG.entries() if f"{t}.v{v}.json" not in names]
    assert missing == []


@pytest.mark.parametrize("path", sample_paths(), ids=lambda p: p.stem)
def test_golden_samples_keep_loading_and_round_trip(path: Path) -> None:
    raw = json.loads(path.read_text())
    envelope = load_event(path.read_bytes())
    assert envelope.type == raw["type"]
    assert envelope.version == raw["version"]
    redumped = json.loads(dump_event(envelope))
    # Optional fields added since the sample was written may appear with defaults; nothing may be lost.
    assert {k: v for k, v in redumped.items() if k != "data"} == {k: v for k, v in raw.items() if k != "data"}
    assert redumped["data"] | raw["data"] == redumped["data"]


def test_consumers_ignore_unknown_fields_in_envelope_and_data() -> None:
    raw = json.loads((SAMPLES / "scheduling.appointment.booked.v1.json").read_text())
    raw["data"]["room_id"] = "added-by-a-newer-producer"
    raw["trace_flags"] = "01"
    envelope = load_event(json.dumps(raw))
    assert "room_id" not in envelope.data


def test_producers_refuse_unknown_fields() -> None:
    with pytest.raises(EventContractError, match="unknown fields"):
        new_event(
            "scheduling.clinic.changed",
            clinic_data() | {"notes": "x"},
            producer="scheduling",
            occurred_at=NOW,
        )


def test_producers_refuse_missing_fields() -> None:
    data = clinic_data()
    del data["timezone"]
    with pytest.raises(EventContractError, match="timezone"):
        new_event("scheduling.clinic.changed", data, producer="scheduling", occurred_at=NOW)


def test_unknown_event_types_and_versions_are_contract_errors() -> None:
    with pytest.raises(EventContractError):
        new_event("scheduling.unknown", {}, producer="scheduling", occurred_at=NOW)
    raw = json.loads((SAMPLES / "scheduling.clinic.changed.v1.json").read_text())
    raw["version"] = 99
    with pytest.raises(EventContractError):
        load_event(json.dumps(raw))


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe not utf-8", b"not json", b"[1, 2]", b'{"id": "x"}', b"{}"],
    ids=["bytes", "text", "array", "bad-envelope", "empty"],
)
def test_malformed_messages_are_contract_errors(body: bytes) -> None:
    with pytest.raises(EventContractError):
        load_event(body)


def test_envelope_defaults_correlation_to_its_own_id_and_keeps_utc() -> None:
    envelope = new_event("scheduling.clinic.changed", clinic_data(), producer="scheduling", occurred_at=NOW)
    assert envelope.correlation_id == envelope.id
    assert envelope.causation_id is None
    assert envelope.occurred_at.tzinfo is UTC
    assert load_event(dump_event(envelope)) == envelope


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_event(
            "scheduling.clinic.changed",
            clinic_data(),
            producer="scheduling",
            occurred_at=datetime(2026, 1, 1),
        )


def test_invoice_issued_without_a_document_link_still_loads() -> None:
    # Producers before signed document links existed sent neither field.
    raw = json.loads((SAMPLES / "billing.invoice.issued.v1.json").read_text())
    del raw["data"]["document_url"], raw["data"]["document_expires_at"]
    envelope = load_event(json.dumps(raw))
    assert envelope.data["document_url"] is None
    assert envelope.data["document_expires_at"] is None


def test_invoice_document_links_must_be_web_urls() -> None:
    raw = json.loads((SAMPLES / "billing.invoice.issued.v1.json").read_text())
    raw["data"]["document_url"] = "javascript:alert(1)"
    with pytest.raises(EventContractError, match="document_url"):
        load_event(json.dumps(raw))


def test_password_reset_and_sign_up_links_are_the_scheduling_events_that_carry_a_secret() -> None:
    assert {t for t in CATALOG.secret_types() if t.startswith("scheduling.")} == {
        "scheduling.password_reset.requested",
        "scheduling.sign_up.requested",
    }


def test_a_password_reset_token_must_be_safe_to_put_in_a_link_and_a_staff_account_has_no_patient() -> None:
    raw = json.loads((SAMPLES / "scheduling.password_reset.requested.v1.json").read_text())
    raw["data"]["patient_id"] = None
    raw["data"]["first_name"] = None
    assert load_event(json.dumps(raw)).data["patient_id"] is None
    raw["data"]["token"] = "../../admin?x=" + "a" * 40
    with pytest.raises(EventContractError, match="token"):
        load_event(json.dumps(raw))
