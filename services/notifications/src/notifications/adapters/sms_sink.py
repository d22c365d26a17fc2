"""The SMS sink: used when no SMS provider is configured, it appends each SMS to ``outbox.jsonl``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from notifications.adapters.jsonl import append_json_line
from notifications.service_layer.ports import OutgoingSms, TransportError

OUTBOX_FILE = "outbox.jsonl"
_SINK_NAMESPACE = uuid.UUID("0b7f4f4e-55a4-4d0c-9a52-6b1f0f3c6e21")


class SmsSink:
    """An SmsSender writing one JSON line per message; the returned id is derived from the delivery key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def path(self) -> Path:
        return self.directory / OUTBOX_FILE

    def send(self, sms: OutgoingSms) -> str:
        sink_id = f"sink-{uuid.uuid5(_SINK_NAMESPACE, sms.key)}"
        record = {
            "id": sink_id,
            "key": sms.key,
            "to": sms.to,
            "body": sms.body,
            "recorded_at": datetime.now(UTC).isoformat(),
        }
        try:
            append_json_line(self.path, record)
        except OSError as exc:
            raise TransportError(f"cannot write to the SMS sink ({type(exc).__name__})") from None
        return sink_id
