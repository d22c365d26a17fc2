"""The development mailbox: each e-mail becomes an .eml file (openable by any mail client) plus an index.

Used when SMTP_URL is unset. Files are named after the Message-ID, so a resend of the same delivery
replaces its file instead of adding a second one.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from notifications.adapters.jsonl import append_json_line
from notifications.adapters.mime import build_message
from notifications.service_layer.ports import OutgoingEmail, TransportError

INDEX_FILE = "index.jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DevMailbox:
    """A Mailer writing to ``directory``; ``index.jsonl`` lists file, date, recipient and subject."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self._sender = sender

    def close(self) -> None:
        """Nothing is kept open between messages."""

    def send(self, email: OutgoingEmail) -> str:
        message = build_message(email, self._sender)
        name = _UNSAFE.sub("_", email.message_id.strip("<>")) + ".eml"
        path = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            first_time = not path.exists()
            temporary = path.with_name(f".{name}.tmp")
            temporary.write_bytes(message.as_bytes())
            os.replace(temporary, path)
            if first_time:
                append_json_line(
                    self.directory / INDEX_FILE,
                    {
                        "file": name,
                        "date": datetime.now(UTC).isoformat(),
                        "message_id": email.message_id,
                        "to": email.to,
                        "subject": email.subject,
                    },
                )
        except OSError as exc:
            raise TransportError(f"cannot write to the development mailbox ({type(exc).__name__})") from None
        return name
