"""Access to the composition root from inside views."""

from __future__ import annotations

from flask import current_app

from scheduling.bootstrap import Container

CONTAINER_KEY = "scheduling.container"


def container() -> Container:
    return current_app.extensions[CONTAINER_KEY]
