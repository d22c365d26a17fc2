"""Signed, expiring document links: HMAC-SHA256 tokens that open one document without signing in.

A token reads ``<kind>.v1.<payload>.<signature>``, ``kind`` being ``invoice`` or ``credit_note``.
``payload`` is unpadded base64url of the JSON ``{"i": "<document id>", "e": <expiry, unix seconds>}`` and
``signature`` the unpadded base64url HMAC-SHA256, under the link secret, of everything before it; so the
kind, the id and the expiry are all bound. Nothing in a token is trusted before its signature is checked
(in constant time). A token is URL-safe as it stands (letters, digits, ``-``, ``_`` and ``.``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

from billing.service_layer.ports import (
    DocumentKind,
    DocumentLink,
    DocumentLinkExpired,
    InvalidDocumentLink,
    LinkedDocument,
)

INVOICE = DocumentKind.INVOICE.value
CREDIT_NOTE = DocumentKind.CREDIT_NOTE.value
VERSION = "v1"
# Far above a real token (about 150 characters): anything longer is refused before any work is done.
MAX_TOKEN_LENGTH = 256
_INVALID = "no document at this link"
_EXPIRED = "this link has expired; ask the clinic for a new one"


def sign_token(secret: bytes, kind: str, document_id: uuid.UUID, expires: int) -> str:
    """The token opening document ``document_id`` of ``kind`` until ``expires`` (unix seconds)."""
    payload = json.dumps({"i": str(document_id), "e": expires}, separators=(",", ":")).encode()
    signed = f"{kind}.{VERSION}.{_b64encode(payload)}"
    return f"{signed}.{_signature(secret, signed)}"


def verify_token(secret: bytes, token: str, kind: str, now: datetime) -> uuid.UUID:
    """The document id a genuine, unexpired token of ``kind`` opens.

    Raises InvalidDocumentLink for anything malformed, altered or signed under another secret, and
    DocumentLinkExpired for a genuine token whose expiry is not after ``now``.
    """
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidDocumentLink(_INVALID)
    parts = token.split(".")
    if len(parts) != 4 or parts[:2] != [kind, VERSION]:
        raise InvalidDocumentLink(_INVALID)
    signed, _, signature = token.rpartition(".")
    if not hmac.compare_digest(_signature(secret, signed).encode(), signature.encode()):
        raise InvalidDocumentLink(_INVALID)
    document_id, expires = _payload(parts[2])
    if now.timestamp() >= expires:
        raise DocumentLinkExpired(_EXPIRED)
    return document_id


class SignedDocumentLinks:
    """Links under billing's public URL, signed with the link secret, valid for ``ttl``."""

    def __init__(self, secret: str, public_url: str, ttl: timedelta) -> None:
        self._secret = secret.encode()
        self._public_url = public_url.rstrip("/")
        self._ttl_seconds = int(ttl.total_seconds())

    def invoice_link(self, invoice_id: uuid.UUID, now: datetime) -> DocumentLink:
        return self._link(DocumentKind.INVOICE, invoice_id, now)

    def credit_note_link(self, credit_note_id: uuid.UUID, now: datetime) -> DocumentLink:
        return self._link(DocumentKind.CREDIT_NOTE, credit_note_id, now)

    def invoice_id(self, token: str, now: datetime) -> uuid.UUID:
        return verify_token(self._secret, token, INVOICE, now)

    def document(self, token: str, now: datetime) -> LinkedDocument:
        """The document of whichever kind the token names, once its signature (over the kind) checks."""
        try:
            kind = DocumentKind(token.partition(".")[0])
        except ValueError:
            raise InvalidDocumentLink(_INVALID) from None
        return LinkedDocument(kind, verify_token(self._secret, token, kind.value, now))

    def _link(self, kind: DocumentKind, document_id: uuid.UUID, now: datetime) -> DocumentLink:
        expires = int(now.timestamp()) + self._ttl_seconds
        token = sign_token(self._secret, kind.value, document_id, expires)
        return DocumentLink(f"{self._public_url}/documents/{token}", datetime.fromtimestamp(expires, UTC))


class NoDocumentLinks:
    """Links are not configured: none are made, and no token opens anything."""

    def invoice_link(self, invoice_id: uuid.UUID, now: datetime) -> None:
        return None

    def credit_note_link(self, credit_note_id: uuid.UUID, now: datetime) -> None:
        return None

    def invoice_id(self, token: str, now: datetime) -> uuid.UUID:
        raise InvalidDocumentLink(_INVALID)

    def document(self, token: str, now: datetime) -> LinkedDocument:
        raise InvalidDocumentLink(_INVALID)


def _signature(secret: bytes, signed: str) -> str:
    return _b64encode(hmac.new(secret, signed.encode(), hashlib.sha256).digest())


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _payload(encoded: str) -> tuple[uuid.UUID, int]:
    # Only reached with a valid signature, i.e. for payloads we wrote ourselves; checked all the same.
    try:
        data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        document_id, expires = uuid.UUID(data["i"]), data["e"]
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise InvalidDocumentLink(_INVALID) from None
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise InvalidDocumentLink(_INVALID)
    return document_id, expires
