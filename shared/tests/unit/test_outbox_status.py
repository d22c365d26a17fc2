"""Outbox status figures on a SQLite outbox: only unsent rows count, oldest first, per event type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import MetaData, insert

from clinic_shared.db import make_engine
from clinic_shared.messaging.status import format_status, outbox_status
from clinic_shared.messaging.tables import define_outbox_table

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def test_status_counts_unsent_rows_per_type_with_their_oldest_age(tmp_path: Path) -> None:
    metadata = MetaData()
    table = define_outbox_table(metadata)
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    metadata.create_all(engine)

    def row(event_type: str, minutes_ago: int, *, sent: bool = False, attempts: int = 0) -> dict[str, object]:
        at = NOW - timedelta(minutes=minutes_ago)
        return {
            "event_id": uuid.uuid4(),
            "exchange": "scheduling.events",
            "routing_key": event_type,
            "body": b"{}",
            "created_at": at,
            "next_attempt_at": at,
            "attempts": attempts,
            "sent_at": at if sent else None,
        }

    with engine.begin() as conn:
        assert outbox_status(conn, table, NOW).pending == ()
        conn.execute(
            insert(table),
            [
                row("scheduling.clinic.changed", 30, sent=True),
                row("scheduling.clinic.changed", 12, attempts=7),
                row("scheduling.clinic.changed", 1, attempts=1),
                row("scheduling.appointment.booked", 2),
            ],
        )
        status = outbox_status(conn, table, NOW)
    engine.dispose()

    assert (status.count, status.oldest_age) == (3, timedelta(minutes=12))
    assert [(p.event_type, p.count, p.oldest_age, p.max_attempts) for p in status.pending] == [
        ("scheduling.clinic.changed", 2, timedelta(minutes=12), 7),
        ("scheduling.appointment.booked", 1, timedelta(minutes=2), 0),
    ]
    assert format_status("scheduling", status)[0] == "scheduling outbox: 3 unsent, oldest 720s"
    assert format_status("scheduling", status)[1].startswith(
        "  scheduling.clinic.changed: 2 unsent, oldest 720s"
    )
