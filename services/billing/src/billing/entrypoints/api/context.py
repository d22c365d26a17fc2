"""Access to the composition root and request pagination from inside views."""

from __future__ import annotations

from flask import current_app
from flask_smorest.pagination import PaginationParameters

from billing.bootstrap import Container
from billing.service_layer.services import Page

CONTAINER_KEY = "billing.container"
STAFF_ROLES = ("practitioner", "front_desk", "billing", "admin")
PRICE_SETTERS = ("admin", "billing")
BILLING_STAFF = ("admin", "billing")


def container() -> Container:
    return current_app.extensions[CONTAINER_KEY]


def page_of(pagination: PaginationParameters) -> Page:
    return Page(offset=pagination.first_item, limit=pagination.page_size)
