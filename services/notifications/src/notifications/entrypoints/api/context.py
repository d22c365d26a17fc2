"""Access to the composition root and request pagination from inside views."""

from __future__ import annotations

from flask import current_app
from flask_smorest.pagination import PaginationParameters

from notifications.bootstrap import Container
from notifications.service_layer.queries import Page

CONTAINER_KEY = "notifications.container"


def container() -> Container:
    return current_app.extensions[CONTAINER_KEY]


def page_of(pagination: PaginationParameters) -> Page:
    return Page(offset=pagination.first_item, limit=pagination.page_size)
