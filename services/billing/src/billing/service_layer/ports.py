"""What the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol, TypeVar

from billing.domain.model import Charge, ChargeKind, ChargeStatus, PriceList, PriceListEntry

T = TypeVar("T")


class BillingRepository(Protocol):
    """Finds and stores billing's domain objects inside one unit of work."""

    def add(self, entity: object) -> None: ...

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None: ...

    def price_list(self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID) -> PriceList: ...

    def list_prices(
        self, clinic_id: uuid.UUID, *, offset: int, limit: int, treatment_type_id: uuid.UUID | None = None
    ) -> tuple[Sequence[PriceListEntry], int]: ...

    def charge_for(self, appointment_id: uuid.UUID, kind: ChargeKind) -> Charge | None: ...

    def charges_awaiting_price(
        self, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID
    ) -> Sequence[Charge]: ...

    def list_charges(
        self,
        *,
        offset: int,
        limit: int,
        patient_id: uuid.UUID | None = None,
        appointment_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
        status: ChargeStatus | None = None,
        needs_price: bool | None = None,
    ) -> tuple[Sequence[Charge], int]: ...
