"""The statements a consumer runs for every booked event, built once (a statement built per event, its
values inline, costs more to compile and look up in the cache than to run)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Uuid, bindparam, literal, select
from sqlalchemy import inspect as mapper_of
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ColumnProperty

from billing.adapters.orm import billing_policies, charges, clinics, price_list_entries
from billing.domain.model import Charge, PriceListEntry


@functools.cache
def charge_columns() -> Sequence[ColumnProperty[Any]]:
    """A charge's mapped columns (its money as its two columns), once the mappers are set up."""
    return list(mapper_of(Charge).column_attrs)


@functools.cache
def insert_charge_unless_taken(dialect_name: str) -> Any:
    """Insert a charge unless its appointment has one of its kind: the new charge's id, or no row."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(charges)
        .on_conflict_do_nothing(index_elements=[charges.c.appointment_id, charges.c.kind])
        .returning(charges.c.id)
    )


@functools.cache
def charge_terms_query() -> Select[Any]:
    """What pricing a charge needs in one round trip: a row per price entry (one with none), each carrying
    the clinic's zone and tax rate. Its ids are bound at execution."""
    clinic_id = bindparam("clinic_id", type_=Uuid)
    treatment_type_id = bindparam("treatment_type_id", type_=Uuid)
    anchor = select(literal(1).label("one")).subquery()
    return (
        select(clinics.c.timezone, billing_policies.c.treatment_tax_rate_bp, PriceListEntry)
        .select_from(anchor)
        .outerjoin(clinics, clinics.c.id == clinic_id)
        .outerjoin(billing_policies, billing_policies.c.clinic_id == clinic_id)
        .outerjoin(
            price_list_entries,
            (price_list_entries.c.clinic_id == clinic_id)
            & (price_list_entries.c.treatment_type_id == treatment_type_id),
        )
    )
