"""Housekeeping for idempotency keys: the API makes money-moving requests at most once per key
(entrypoints/api/idempotency.py); this purges the keys once their retention is over.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from billing.service_layer.unit_of_work import BillingUnitOfWork


def purge_idempotency_keys(
    uow_factory: Callable[[], BillingUnitOfWork], retention: timedelta, *, batch_size: int = 1000
) -> int:
    """Delete the keys older than ``retention``, one short transaction per batch; returns how many.

    Once its key is gone, a repeated request is a new request: it acts again and gets a fresh response.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff: datetime | None = None
    purged = 0
    while True:
        with uow_factory() as uow:
            cutoff = cutoff or uow.clock.now() - retention
            deleted = uow.repo.purge_idempotency_keys(cutoff, batch_size)
            uow.commit()
        purged += deleted
        if deleted < batch_size:
            return purged
