"""Credentials in URL paths never reach the access log: the middleware rewrites the environ it logs from."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from clinic_shared.web.redaction import RedactPathSecrets


def app_seeing(paths: list[str]) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        paths.append(environ["PATH_INFO"])  # the app itself must see the real path
        start_response("200 OK", [])
        return [b"ok"]

    return app


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/documents/invoice.v1.abc.def", "/documents/redacted"),
        ("/feeds/Zx9-token_1.ics", "/feeds/redacted"),
        ("/documents/tok/extra", "/documents/redacted/extra"),
        ("/invoices/1f0c/pdf", "/invoices/1f0c/pdf"),
        ("/documents/", "/documents/"),
    ],
)
def test_the_secret_segment_is_replaced_after_the_app_answered(path: str, logged: str) -> None:
    seen: list[str] = []
    middleware = RedactPathSecrets(app_seeing(seen), ("/documents/", "/feeds/"))
    environ = {"PATH_INFO": path, "RAW_URI": path + "?x=1", "REQUEST_URI": path}
    assert list(middleware(environ, lambda *_: None)) == [b"ok"]
    assert seen == [path]
    assert environ == {"PATH_INFO": logged, "RAW_URI": logged + "?x=1", "REQUEST_URI": logged}


def test_prefixes_must_be_whole_path_segments() -> None:
    with pytest.raises(ValueError, match="secret prefixes"):
        RedactPathSecrets(app_seeing([]), ("/documents",))
