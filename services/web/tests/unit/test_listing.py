"""Every page of an API list: the first page, then the rest side by side, in the API's order."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from web.service_layer import listing


class Paged:
    """A list API of ``total`` numbered items, recording the pages asked for."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.asked: list[dict[str, Any]] = []

    def request(self, method: str, path: str, *, token: Any = None, params: Any = None, **_: Any) -> Any:
        self.asked.append(dict(params))
        size, number = params["page_size"], params["page"]
        items = list(range((number - 1) * size, min(number * size, self.total)))
        pages = -(-self.total // size)
        header = json.dumps({"total": self.total, "total_pages": pages})
        return SimpleNamespace(json=lambda: items, headers={"X-Pagination": header})


def test_every_page_is_read_and_the_order_kept() -> None:
    api = Paged(250)
    items = listing.every_page(api, "/appointments", "token", {"clinic_id": "c"})  # type: ignore[arg-type]
    assert items == list(range(250))
    assert sorted(p["page"] for p in api.asked) == [1, 2, 3]
    assert all(p["clinic_id"] == "c" and p["page_size"] == 100 for p in api.asked)


def test_a_list_longer_than_the_pages_a_page_shows_stops_there_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = Paged(100 * listing.MAX_PAGES + 1)
    with caplog.at_level(logging.WARNING, logger=listing.__name__):
        assert len(listing.every_page(api, "/x", "token")) == 100 * listing.MAX_PAGES  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records] == [
        f"listing /x: {listing.MAX_PAGES + 1} pages, only the first {listing.MAX_PAGES} read"
    ]
