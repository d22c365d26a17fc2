"""Every item of a paginated API list: the first page says how many pages there are, the rest are read side
by side (a full clinic day is two pages of appointments; one after the other they cost a round trip more)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from web.service_layer.concurrency import together
from web.service_layer.ports import Api

PAGE_SIZE = 100  # most APIs' largest page
MAX_PAGES = 20  # a list longer than 2,000 items is not something a page should show whole

log = logging.getLogger(__name__)


def every_page(
    api: Api,
    path: str,
    token: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int = PAGE_SIZE,
) -> list[Any]:
    """The items of every page of ``GET path`` (at most ``MAX_PAGES`` pages), in the API's order; pages of
    ``page_size`` (an API that allows larger pages than most says so in its OpenAPI entry)."""

    def page(number: int) -> Any:
        return api.request(
            "GET", path, token=token, params=dict(params or {}) | {"page": number, "page_size": page_size}
        )

    first = page(1)
    pagination = json.loads(first.headers.get("X-Pagination") or "{}")
    total_pages = int(pagination.get("total_pages") or 1)
    if total_pages > MAX_PAGES:
        # Said, not silent: someone asked a page to show more than it should; the path holds ids only.
        log.warning("listing %s: %d pages, only the first %d read", path, total_pages, MAX_PAGES)
    pages = min(total_pages, MAX_PAGES)
    rest = together(*(lambda number=number: page(number) for number in range(2, pages + 1)))
    return [item for response in (first, *rest) for item in response.json()]
