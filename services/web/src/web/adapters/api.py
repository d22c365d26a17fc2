"""HTTP clients of the three services' public APIs: pooled connections, short timeouts, problem+json errors.

The web front owns no clinical or billing data; everything it shows or changes goes through here, in the
signed-in user's name (their bearer token), so each service's own authorization applies unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from clinic_shared import tracing
from web.service_layer.ports import ApiError, Apis, Json, Unavailable

__all__ = ["ApiError", "Apis", "ServiceClient", "Unavailable", "close_all", "error_from"]


def error_from(response: httpx.Response) -> ApiError:
    """A problem+json answer as an ``ApiError`` naming its fields (``invalid-params``)."""
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
    return ApiError(
        status=response.status_code,
        title=str(body.get("title", "")),
        detail=str(body.get("detail", "")),
        fields=fields,
        body=body,
    )


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
        # A CLIENT span whose traceparent goes with the call: the API's request span is its child. Named by
        # the API, not the path (ids), and never the query (a search may carry a patient's name).
        attributes = {"http.request.method": method, "clinic.api": self.name} if tracing.enabled() else None
        with tracing.span(
            f"{method} {self.name}", kind=tracing.SpanKind.CLIENT, attributes=attributes
        ) as span:
            all_headers.update(tracing.inject())
            try:
                response = self._http.request(method, path, json=json, params=params, headers=all_headers)
            except httpx.TransportError as exc:
                tracing.mark_failed(span, type(exc).__name__)
                raise Unavailable(self.name) from None
            span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            raise error_from(response)
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

    def delete(self, path: str, *, token: str | None = None) -> Json:
        response = self.request("DELETE", path, token=token)
        return response.json() if response.content else None

    def close(self) -> None:
        self._http.close()


def close_all(apis: Apis) -> None:
    for client in (apis.scheduling, apis.billing, apis.notifications):
        if isinstance(client, ServiceClient):
            client.close()
