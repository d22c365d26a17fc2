"""Every item of a paginated API list: the first page says how many pages there are, the rest are read side
by side (a full clinic day is two pages of appointments; one after the other they cost a round trip more)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from web.service_layer.concurrency import together
from web.service_layer.ports import Api

PAGE_SIZE = 100  # the APIs' largest page
MAX_PAGES = 20  # a list longer than 2,000 items is not something a page should show whole

log = logging.getLogger(__name__)


def every_page(
    api: Api, path: str, token: str, params: Mapping[str, Any] | None = None, *, expected_pages: int = 1
) -> list[Any]:
    """The items of every page of ``GET path`` (at most ``MAX_PAGES`` pages), in the API's order.

    ``expected_pages`` (say, as many as the same list had last time) are asked for side by side with the
    first, saving a round trip when the list is that long; pages past the end come back empty."""

    def page(number: int) -> Any:
        return api.request(
            "GET", path, token=token, params=dict(params or {}) | {"page": number, "page_size": PAGE_SIZE}
        )

    def pages_from(first: int, last: int) -> list[Any]:
        return list(together(*(lambda number=number: page(number) for number in range(first, last + 1))))

    guessed = max(1, min(expected_pages, MAX_PAGES))
    responses = pages_from(1, guessed)
    pagination = json.loads(responses[0].headers.get("X-Pagination") or "{}")
    total_pages = int(pagination.get("total_pages") or 1)
    if total_pages > MAX_PAGES:
        # Said, not silent: someone asked a page to show more than it should; the path holds ids only.
        log.warning("listing %s: %d pages, only the first %d read", path, total_pages, MAX_PAGES)
    pages = min(total_pages, MAX_PAGES)
    responses = responses[:pages] + pages_from(guessed + 1, pages)
    return [item for response in responses for item in response.json()]
