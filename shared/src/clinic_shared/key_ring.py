"""The issuer's signing keys over time: a directory of PEM files, the newest signing, older ones published.

Each key is a file ``<created, UTC>-<kid>.pem`` (mode 0600), so names sort in order of creation. A new key
is published at once but signs only after ``activation_delay``, by which time every process sharing the
directory has re-read it (each re-lists it at most every ``refresh_interval``): a token with the new kid is
therefore never handed out while some process's JWKS still lacks that kid. A key that was replaced stays
published until the token TTL plus a margin after its successor took over, then it disappears from the JWKS
(its tokens stop verifying) and ``rotate``/``prune`` delete its file. Creating and pruning hold an exclusive
lock on the directory, so concurrent processes never create two "first" keys.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clinic_shared.clock import Clock
from clinic_shared.tokens import SigningKey, TokenError

_CREATED_FORMAT = "%Y%m%dT%H%M%S%fZ"
_KEY_FILE = re.compile(r"^(?P<created>\d{8}T\d{12}Z)-(?P<kid>[A-Za-z0-9_-]{43})\.pem$")
_LOCK_FILE = ".lock"


@dataclass(frozen=True)
class RingKey:
    """One key of the ring: when it was created and the window in which it is published."""

    key: SigningKey
    path: Path
    created_at: datetime
    signs_from: datetime
    published_until: datetime | None

    @property
    def kid(self) -> str:
        return self.key.kid


class KeyRing:
    """Signs with the newest active key of a directory; publishes every key whose tokens may still be valid.

    Offers ``issue`` and ``jwks`` like a single SigningKey, and ``key(kid)`` for a TokenVerifier.
    """

    def __init__(
        self,
        directory: Path,
        *,
        token_ttl: timedelta,
        clock: Clock,
        legacy_key_file: Path | None = None,
        margin: timedelta = timedelta(minutes=5),
        refresh_interval: timedelta = timedelta(seconds=2),
    ) -> None:
        self._directory = directory
        self._token_ttl = token_ttl
        self._clock = clock
        self._legacy_key_file = legacy_key_file
        self._margin = margin
        self._refresh_interval = refresh_interval
        self._activation_delay = 2 * refresh_interval
        self._lock = threading.Lock()
        self._loaded: dict[str, SigningKey] = {}
        self._keys: tuple[RingKey, ...] = ()
        self._checked_at: datetime | None = None

    @property
    def directory(self) -> Path:
        return self._directory

    def keys(self) -> tuple[RingKey, ...]:
        """Every key of the directory, oldest first (re-listed at most once per refresh interval)."""
        with self._lock:
            now = self._clock.now()
            due = (
                self._checked_at is None
                or not self._checked_at <= now < self._checked_at + self._refresh_interval
            )
            if due or not self._keys:
                self._read(now)
            if not self._keys:
                with self._directory_lock():
                    self._ensure_first_key()
                self._read(now)
            return self._keys

    def signing_key(self) -> SigningKey:
        """The newest key whose activation has passed (the first key is active from its creation)."""
        now = self._clock.now()
        keys = self.keys()
        active = [k for k in keys if k.signs_from <= now]
        return (active[-1] if active else keys[0]).key

    def published(self) -> list[RingKey]:
        """The keys that may still have valid tokens (and any key about to sign), newest first."""
        now = self._clock.now()
        return [k for k in reversed(self.keys()) if k.published_until is None or now < k.published_until]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.key.public_jwk() for k in self.published()]}

    def key(self, kid: str) -> Ed25519PublicKey:
        for ring_key in self.published():
            if ring_key.kid == kid:
                return ring_key.key.private_key.public_key()
        raise TokenError("unknown signing key")

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
        """Sign a token with the current key (see ``SigningKey.issue``)."""
        return self.signing_key().issue(
            subject=subject, roles=roles, issuer=issuer, audience=audience, now=now, ttl=ttl, claims=claims
        )

    def ensure_key(self) -> SigningKey:
        """Make sure the ring has a key (adopting the legacy key file if there is one); return the signer."""
        return self.signing_key()

    def rotate(self) -> tuple[SigningKey, list[RingKey]]:
        """Add a new key (it signs after the activation delay) and delete expired keys; return both."""
        with self._directory_lock():
            self._ensure_first_key()
            newest = self._scan()[-1].created_at
            # Strictly after the newest key even if the clock says otherwise, so the names keep their order.
            new = SigningKey.generate()
            self._write(new, max(self._clock.now(), newest + timedelta(microseconds=1)))
            removed = self._prune_locked()
        with self._lock:
            self._read(self._clock.now())
        return new, removed

    def prune(self) -> list[RingKey]:
        """Delete the files of keys no longer published (the newest key is never deleted)."""
        with self._directory_lock():
            removed = self._prune_locked()
        with self._lock:
            self._read(self._clock.now())
        return removed

    def _prune_locked(self) -> list[RingKey]:
        now = self._clock.now()
        expired = [k for k in self._scan() if k.published_until is not None and k.published_until <= now]
        for ring_key in expired:
            ring_key.path.unlink(missing_ok=True)
        return expired

    def _read(self, now: datetime) -> None:
        self._keys = self._scan()
        self._checked_at = now

    def _scan(self) -> tuple[RingKey, ...]:
        found: list[tuple[str, datetime, Path]] = []
        if self._directory.is_dir():
            for entry in os.scandir(self._directory):
                match = _KEY_FILE.match(entry.name)
                if match:
                    created = datetime.strptime(match["created"], _CREATED_FORMAT).replace(tzinfo=UTC)
                    found.append((entry.name, created, Path(entry.path)))
        found.sort()
        keys: list[SigningKey] = [self._load(name, path) for name, _, path in found]
        signs_from = [
            created if index == 0 else created + self._activation_delay
            for index, (_, created, _) in enumerate(found)
        ]
        loaded = {name for name, _, _ in found}
        self._loaded = {name: key for name, key in self._loaded.items() if name in loaded}
        return tuple(
            RingKey(
                key=key,
                path=path,
                created_at=created,
                signs_from=signs_from[index],
                published_until=(
                    signs_from[index + 1] + self._token_ttl + self._margin if index + 1 < len(found) else None
                ),
            )
            for index, (key, (_, created, path)) in enumerate(zip(keys, found, strict=True))
        )

    def _load(self, name: str, path: Path) -> SigningKey:
        key = self._loaded.get(name)
        if key is None:
            key = SigningKey.from_pem(path.read_bytes(), source=path)
            if not name.endswith(f"-{key.kid}.pem"):
                raise ValueError(f"{path} holds the key {key.kid}, not the one its name says")
            self._loaded[name] = key
        return key

    def _ensure_first_key(self) -> None:
        """Create the first key unless there is one; the caller holds the directory lock."""
        if any(_KEY_FILE.match(name) for name in os.listdir(self._directory)):
            return
        legacy = self._legacy_key_file
        if legacy is not None and legacy.is_file():
            first = SigningKey.from_pem(legacy.read_bytes(), source=legacy)
        else:
            first = SigningKey.generate()
        self._write(first, self._clock.now())

    def _write(self, key: SigningKey, created_at: datetime) -> None:
        name = f"{created_at.astimezone(UTC).strftime(_CREATED_FORMAT)}-{key.kid}.pem"
        temporary = self._directory / f".{name}.{uuid.uuid4().hex}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key.to_pem())
                handle.flush()
                os.fsync(handle.fileno())
            # A reader sees either no file or the whole key, never a partly written one.
            os.link(temporary, self._directory / name)
        finally:
            temporary.unlink(missing_ok=True)

    @contextmanager
    def _directory_lock(self) -> Iterator[None]:
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
