"""Keeping credentials that travel in URL paths (signed document links, calendar feed tokens) out of logs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

REDACTED = "redacted"
_PATH_KEYS = ("PATH_INFO", "RAW_URI", "REQUEST_URI")


class RedactPathSecrets:
    """WSGI middleware: once the app has answered, replace the path segment after each secret prefix.

    Gunicorn's access log reads the path from the WSGI environ after the response is sent, so a working
    link would otherwise be written to the logs (``/documents/<token>`` becomes ``/documents/redacted``).
    """

    def __init__(self, app: WsgiApp, secret_prefixes: Sequence[str]) -> None:
        if not secret_prefixes or any(not p.startswith("/") or not p.endswith("/") for p in secret_prefixes):
            raise ValueError("secret prefixes look like '/documents/'")
        self._app = app
        self._pattern = re.compile("(" + "|".join(re.escape(p) for p in secret_prefixes) + r")[^/?#]+")

    def redact(self, path: str) -> str:
        return self._pattern.sub(rf"\g<1>{REDACTED}", path)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self._app(environ, start_response)
        finally:
            for key in _PATH_KEYS:
                value = environ.get(key)
                if isinstance(value, str):
                    environ[key] = self.redact(value)
