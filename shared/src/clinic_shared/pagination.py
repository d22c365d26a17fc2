"""A page of a listing as the service layer asks the repository for it (the API maps page numbers to it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
