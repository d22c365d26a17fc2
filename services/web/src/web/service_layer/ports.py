"""What the page use cases need from the outside: the three services' APIs, as a small interface.

``adapters.api.ServiceClient`` is the real one (httpx); unit tests may pass anything with these methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from web.service_layer.reference import ReferenceCache

Json = Any


@dataclass
class ApiError(Exception):
    """The API answered 4xx/5xx; ``fields`` maps each offending field (dotted path) to its reason."""

    status: int
    title: str = ""
    detail: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class Unavailable(Exception):
    """The service could not be reached in time (connection refused, timeout)."""

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} is unavailable")
        self.service = service


class Api(Protocol):
    """One service's HTTP API, called in the signed-in user's name (``token``)."""

    name: str

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Json = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any: ...

    def get(
        self, path: str, *, token: str | None = None, params: Mapping[str, Any] | None = None
    ) -> Json: ...

    def post(
        self,
        path: str,
        *,
        token: str | None = None,
        json: Json = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json: ...

    def put(self, path: str, *, token: str | None = None, json: Json = None) -> Json: ...

    def patch(self, path: str, *, token: str | None = None, json: Json = None) -> Json: ...

    def delete(self, path: str, *, token: str | None = None) -> Json: ...


@dataclass(frozen=True)
class Apis:
    """The three services, as the page use cases see them, and what they say of clinics, kept briefly."""

    scheduling: Api
    billing: Api
    notifications: Api
    reference: ReferenceCache = field(default_factory=ReferenceCache)
