"""The baseline for the booking benchmark: a bare Flask endpoint doing one INSERT on the same database."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from flask import Flask, request
from sqlalchemy import Column, DateTime, MetaData, Table, Uuid, insert

from clinic_shared.db import make_engine

metadata = MetaData()
bare_bookings = Table(
    "bench_bare_bookings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("practitioner_id", Uuid, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
)


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["SCHEDULING_DATABASE_URL"])

    @app.post("/bare")
    def book() -> tuple[dict[str, str], int]:
        body = request.get_json()
        row_id = uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                insert(bare_bookings).values(
                    id=row_id,
                    practitioner_id=uuid.UUID(body["practitioner_id"]),
                    starts_at=datetime.fromisoformat(body["starts_at"]).astimezone(UTC),
                )
            )
        return {"id": str(row_id)}, 201

    return app
