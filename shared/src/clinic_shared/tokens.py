"""Signing and verifying the platform's access tokens (asymmetric EdDSA JWTs), independent of Flask.

Scheduling owns the private key and issues tokens; every service verifies them with the public keys
published as a JWKS. Algorithms are fixed (never taken from the token), and exp/iat/iss/aud/sub are required.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
ROLES = ("patient", "practitioner", "front_desk", "billing", "admin")
STAFF_ROLES = frozenset({"practitioner", "front_desk", "billing", "admin"})


class TokenError(Exception):
    """The token is missing, malformed, expired, or not ours."""


class KeysUnavailable(Exception):
    """The verification keys could not be loaded (e.g. the issuer is unreachable)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an account id, its roles, and the patient or practitioner record it is tied to."""

    account_id: uuid.UUID
    roles: frozenset[str]
    patient_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None
    clinic_id: uuid.UUID | None = None

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    @property
    def organisation_wide(self) -> bool:
        """Staff whose roles hold in every clinic of the organisation: an account that names no clinic
        (ADR 0006). Only they may create clinics or other organisation-wide accounts."""
        return self.is_staff and self.clinic_id is None

    def acts_in(self, clinic_id: uuid.UUID | None) -> bool:
        """Whether this caller's staff roles hold in ``clinic_id``: their own clinic, or any clinic when
        organisation-wide. Objects of other clinics are answered as not found, never as forbidden."""
        return self.is_staff and clinic_id is not None and (self.clinic_id in (None, clinic_id))


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key with a stable key id (its RFC 7638 thumbprint)."""

    private_key: Ed25519PrivateKey
    kid: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kid", _thumbprint(self.public_jwk_without_kid()))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, *, source: object = "key") -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{source} is not an Ed25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """Load a PEM key, creating it (mode 0600) if absent; concurrent creators all end up with one key."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = cls.generate().to_pem()
            try:
                # O_EXCL: if another process won the race, read its key instead of overwriting it.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
        return cls.from_pem(path.read_bytes(), source=path)

    def public_jwk_without_kid(self) -> dict[str, str]:
        return json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))

    def public_jwk(self) -> dict[str, str]:
        return self.public_jwk_without_kid() | {"kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.public_jwk()]}

    def issue(
        self,
        *,
        subject: uuid.UUID,
        roles: Iterable[str],
        issuer: str,
        audience: str,
        now: datetime,
        ttl: timedelta,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        payload: dict[str, Any] = {
            "sub": str(subject),
            "roles": sorted(roles),
            "iss": issuer,
            "aud": audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        payload.update({k: str(v) for k, v in (claims or {}).items() if v is not None})
        return jwt.encode(payload, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


def _thumbprint(jwk: Mapping[str, str]) -> str:
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class PublicKeys(Protocol):
    """Where a verifier looks up the public key of a token's kid."""

    def key(self, kid: str) -> Ed25519PublicKey:
        """The public key published under ``kid``; raises TokenError when there is none."""
        ...


class KeySource:
    """Public keys by kid, from a JWKS URL (cached, refetched on an unknown kid) or a JWKS file."""

    def __init__(
        self, *, url: str | None = None, file: Path | None = None, jwks: Mapping[str, Any] | None = None
    ) -> None:
        if not (url or file or jwks):
            raise ValueError("a JWKS URL, file or document is required")
        self._url = url
        self._file = file
        self._static = jwks
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def key(self, kid: str) -> Ed25519PublicKey:
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at > 5:
                self._keys = self._load()
                self._fetched_at = time.monotonic()
            try:
                return self._keys[kid]
            except KeyError:
                raise TokenError("unknown signing key") from None

    def _load(self) -> dict[str, Ed25519PublicKey]:
        document: Mapping[str, Any]
        if self._static is not None:
            document = self._static
        elif self._file is not None:
            document = json.loads(self._file.read_text())
        else:
            assert self._url is not None
            try:
                response = httpx.get(self._url, timeout=3.0)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise KeysUnavailable(f"cannot fetch JWKS: {exc.__class__.__name__}") from None
            document = response.json()
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
                key = OKPAlgorithm.from_jwk(json.dumps(jwk))
                if isinstance(key, Ed25519PublicKey):
                    keys[jwk["kid"]] = key
        return keys


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    kid: str
    expires_at: int


class TokenVerifier:
    """Verifies access tokens: fixed algorithm, known key, and exp/iat/iss/aud/sub all required.

    A client sends the same token on every request until it expires, so tokens that passed are remembered
    (at most ``cache_size``): a repeat is only checked for expiry and for its key still being known, the
    checks whose outcome can change; the signature and claims of the same bytes verify the same way again.
    """

    def __init__(
        self, keys: PublicKeys, *, issuer: str, audience: str, leeway: int = 10, cache_size: int = 1024
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._cache_size = cache_size
        self._verified: dict[str, _Verified] = {}
        self._cache_lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at <= datetime.now(UTC).timestamp() - self._leeway:
                raise TokenError("token expired")
            self._keys.key(known.kid)
            return known.principal
        principal, kid, expires_at = self._verify(token)
        with self._cache_lock:
            if len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = _Verified(principal, kid, expires_at)
        return principal

    def _verify(self, token: str) -> tuple[Principal, str, int]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("malformed token") from None
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise TokenError("unsupported token")
        key = self._keys.key(header["kid"])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.PyJWTError:
            raise TokenError("invalid token") from None
        try:
            roles = frozenset(str(r) for r in claims.get("roles", []))
            principal = Principal(
                account_id=uuid.UUID(claims["sub"]),
                roles=roles & set(ROLES),
                patient_id=_optional_uuid(claims.get("patient_id")),
                practitioner_id=_optional_uuid(claims.get("practitioner_id")),
                clinic_id=_optional_uuid(claims.get("clinic_id")),
            )
        except (ValueError, TypeError):
            raise TokenError("invalid claims") from None
        return principal, header["kid"], int(claims["exp"])


def _optional_uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None
