"""HTTP clients of the three services' public APIs: pooled connections, short timeouts, problem+json errors.

The web front owns no clinical or billing data; everything it shows or changes goes through here, in the
signed-in user's name (their bearer token), so each service's own authorization applies unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

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

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        fields = {
            str(param.get("name", "")): str(param.get("reason", ""))
            for param in body.get("invalid-params") or []
            if isinstance(param, dict)
        }
        return cls(
            status=response.status_code,
            title=str(body.get("title", "")),
            detail=str(body.get("detail", "")),
            fields=fields,
            body=body,
        )


class Unavailable(Exception):
    """The service could not be reached in time (connection refused, timeout)."""

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} is unavailable")
        self.service = service


class ServiceClient:
    """One service's API over a pooled, thread-safe httpx client."""

    def __init__(
        self, name: str, base_url: str, *, timeout: float, transport: httpx.BaseTransport | None = None
    ):
        self.name = name
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            transport=transport,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Json = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._http.request(method, path, json=json, params=params, headers=all_headers)
        except httpx.TransportError:
            raise Unavailable(self.name) from None
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def get(self, path: str, *, token: str | None = None, params: Mapping[str, Any] | None = None) -> Json:
        return self.request("GET", path, token=token, params=params).json()

    def post(
        self,
        path: str,
        *,
        token: str | None = None,
        json: Json = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        response = self.request("POST", path, token=token, json=json, headers=headers)
        return response.json() if response.content else None

    def put(self, path: str, *, token: str | None = None, json: Json = None) -> Json:
        response = self.request("PUT", path, token=token, json=json)
        return response.json() if response.content else None

    def patch(self, path: str, *, token: str | None = None, json: Json = None) -> Json:
        response = self.request("PATCH", path, token=token, json=json)
        return response.json() if response.content else None

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class Apis:
    """The three services, as the page use cases see them."""

    scheduling: ServiceClient
    billing: ServiceClient
    notifications: ServiceClient

    def close(self) -> None:
        for client in (self.scheduling, self.billing, self.notifications):
            client.close()
