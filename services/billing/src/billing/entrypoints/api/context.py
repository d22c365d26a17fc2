"""Access to the composition root from inside views."""

from __future__ import annotations

from flask import current_app

from billing.bootstrap import Container

CONTAINER_KEY = "billing.container"
STAFF_ROLES = ("practitioner", "front_desk", "billing", "admin")
PRICE_SETTERS = ("admin", "billing")
BILLING_STAFF = ("admin", "billing")


def container() -> Container:
    return current_app.extensions[CONTAINER_KEY]
