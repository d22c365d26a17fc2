"""flask-smorest's page parameters as the service layer's ``Page``."""

from __future__ import annotations

from flask_smorest.pagination import PaginationParameters

from clinic_shared.pagination import Page


def page_of(pagination: PaginationParameters) -> Page:
    return Page(offset=pagination.first_item, limit=pagination.page_size)
