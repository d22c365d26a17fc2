"""The terms a new charge is priced on (the clinic's time zone, the treatment's prices, the clinic's tax
rate), read once per unit of work for each clinic and treatment type: a consumer's batch of bookings for one
clinic asks once, not once per booking (the read was a third of billing's consumer time).

What was read is dropped as soon as a flush writes a clinic, billing policy or price: a batch may carry a
clinic's new time zone between two of its bookings. Those are only ever written through the ORM, so the
flush sees them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from billing.adapters.charge_statements import charge_terms_query
from billing.domain.billing_policy import BillingPolicy
from billing.domain.model import Clinic, PriceList, PriceListEntry
from billing.service_layer.ports import ChargeTerms

_TERMS = (Clinic, BillingPolicy, PriceListEntry)  # what the terms are read from


class ChargeTermsQueries:
    """Part of ``SqlAlchemyRepository``: ``charge_terms``, kept for the unit of work."""

    session: Session
    _terms_read: dict[tuple[uuid.UUID, uuid.UUID], ChargeTerms] | None = None

    _audit_left_pending: Callable[[], contextlib.AbstractContextManager[None]]  # the repository's

    def charge_terms(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> ChargeTerms:
        with self._audit_left_pending():  # a pending clinic or price is flushed first (and drops the terms)
            read = self._terms()
            key = (clinic_id, treatment_type_id)
            if key not in read:
                params = {"clinic_id": clinic_id, "treatment_type_id": treatment_type_id}
                rows = self.session.execute(charge_terms_query(), params).all()
                entries = [row.PriceListEntry for row in rows if row.PriceListEntry is not None]
                read[key] = ChargeTerms(
                    timezone=rows[0].timezone,
                    prices=PriceList(clinic_id, treatment_type_id, entries),
                    treatment_tax_rate_bp=rows[0].treatment_tax_rate_bp or 0,
                )
            return read[key]

    def _terms(self) -> dict[tuple[uuid.UUID, uuid.UUID], ChargeTerms]:
        if self._terms_read is None:
            self._terms_read = {}
            event.listen(self.session, "after_flush", self._forget_terms_if_written)
            event.listen(self.session, "after_rollback", lambda _session: self._forget_terms())
        return self._terms_read

    def _forget_terms_if_written(self, session: Session, _flush_context: Any) -> None:
        # In after_flush, new/dirty/deleted still list what this flush wrote.
        if any(isinstance(entity, _TERMS) for entity in (*session.new, *session.dirty, *session.deleted)):
            self._forget_terms()

    def _forget_terms(self) -> None:
        if self._terms_read:
            self._terms_read.clear()
