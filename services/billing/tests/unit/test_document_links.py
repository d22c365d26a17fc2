"""Signed document links: a token opens the one invoice it names until it expires, and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.adapters.document_links import (
    CREDIT_NOTE,
    INVOICE,
    MAX_TOKEN_LENGTH,
    NoDocumentLinks,
    SignedDocumentLinks,
    sign_token,
    verify_token,
)
from billing.service_layer.ports import (
    DocumentKind,
    DocumentLinkExpired,
    InvalidDocumentLink,
    LinkedDocument,
)

SECRET = "a-test-secret-that-is-long-enough-0123456789"
NOW = datetime(2025, 3, 3, 17, 0, 0, tzinfo=UTC)
INVOICE_ID = uuid.UUID("6f1c2b9e-6a1d-4a53-9d5e-0c1f3b2a4d5e")


def links(secret: str = SECRET) -> SignedDocumentLinks:
    return SignedDocumentLinks(secret, "https://billing.example/", timedelta(days=30))


def token_of(url: str) -> str:
    prefix = "https://billing.example/documents/"
    assert url.startswith(prefix)
    return url.removeprefix(prefix)


def valid_token() -> str:
    return token_of(links().invoice_link(INVOICE_ID, NOW).url)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def with_payload(token: str, payload: dict[str, Any]) -> str:
    """The token with its payload replaced and its original signature kept."""
    kind, version, _, signature = token.split(".")
    return f"{kind}.{version}.{b64(json.dumps(payload).encode())}.{signature}"


def signed_over(signed: str, secret: str = SECRET) -> str:
    """A correctly signed token over arbitrary content (only someone holding the secret can make one)."""
    signature = b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest())
    return f"{signed}.{signature}"


def test_a_link_opens_its_invoice_until_it_expires() -> None:
    link = links().invoice_link(INVOICE_ID, NOW.replace(microsecond=987654))

    assert link.expires_at == NOW + timedelta(days=30)
    token = token_of(link.url)
    assert links().invoice_id(token, NOW) == INVOICE_ID
    assert links().invoice_id(token, link.expires_at - timedelta(seconds=1)) == INVOICE_ID


def test_a_token_is_url_safe_as_it_stands() -> None:
    token = valid_token()
    assert quote(token, safe="") == token
    assert len(token) < MAX_TOKEN_LENGTH


def test_a_link_is_expired_from_its_expiry_on() -> None:
    link = links().invoice_link(INVOICE_ID, NOW)
    token = token_of(link.url)

    for when in (link.expires_at, link.expires_at + timedelta(days=400)):
        with pytest.raises(DocumentLinkExpired, match="expired; ask the clinic for a new one"):
            links().invoice_id(token, when)


def test_an_expired_link_is_not_a_not_found() -> None:
    # The API answers 410 for one and 404 for the other: they must stay apart.
    assert not issubclass(DocumentLinkExpired, InvalidDocumentLink)
    assert not issubclass(InvalidDocumentLink, DocumentLinkExpired)


def test_another_invoice_id_under_the_original_signature_is_refused() -> None:
    token = valid_token()
    forged = with_payload(token, {"i": str(uuid.uuid4()), "e": int(NOW.timestamp()) + 86400})

    with pytest.raises(InvalidDocumentLink):
        links().invoice_id(forged, NOW)


def test_a_later_expiry_under_the_original_signature_is_refused_not_reported_expired() -> None:
    token = valid_token()
    extended = with_payload(token, {"i": str(INVOICE_ID), "e": int(NOW.timestamp()) + 400 * 86400})

    with pytest.raises(InvalidDocumentLink):
        links().invoice_id(extended, NOW + timedelta(days=100))


def test_an_altered_signature_is_refused() -> None:
    token = valid_token()
    signed, _, signature = token.rpartition(".")
    for altered in (
        signature[:-1] + ("A" if signature[-1] != "A" else "B"),
        ("A" if signature[0] != "A" else "B") + signature[1:],
        signature[:-1],
        signature + "A",
        "",
    ):
        with pytest.raises(InvalidDocumentLink):
            links().invoice_id(f"{signed}.{altered}", NOW)


@given(position=st.integers(min_value=0), replacement=st.sampled_from("ABCabc012-_.xyz="))
def test_changing_any_one_character_breaks_the_token(position: int, replacement: str) -> None:
    token = valid_token()
    index = position % len(token)
    altered = token[:index] + replacement + token[index + 1 :]
    if altered == token:
        return
    with pytest.raises(InvalidDocumentLink):
        links().invoice_id(altered, NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    other = token_of(links("another-secret-that-is-also-long-enough-42").invoice_link(INVOICE_ID, NOW).url)

    with pytest.raises(InvalidDocumentLink):
        links().invoice_id(other, NOW)


def test_the_document_kind_is_bound_to_the_token() -> None:
    secret = SECRET.encode()
    expires = int(NOW.timestamp()) + 86400
    receipt = sign_token(secret, "receipt", INVOICE_ID, expires)

    with pytest.raises(InvalidDocumentLink):
        verify_token(secret, receipt, INVOICE, NOW)
    relabelled = "invoice" + receipt.removeprefix("receipt")
    with pytest.raises(InvalidDocumentLink):
        verify_token(secret, relabelled, INVOICE, NOW)
    assert verify_token(secret, receipt, "receipt", NOW) == INVOICE_ID


@pytest.mark.parametrize(
    "token",
    [
        "",
        "nonsense",
        "invoice.v1",
        "invoice.v1.e30",
        "a.b.c.d",
        "invoice.v2.e30.AAAA",
        "invoice.v1.e30.AAAA.extra",
        "invoice.v1.!!!.AAAA",
        "invoice.v1.é.AAAA",
        "invoice.v1." + "A" * MAX_TOKEN_LENGTH + ".AAAA",
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidDocumentLink):
        links().invoice_id(token, NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"text"',
        b"{}",
        b'{"i": "not-a-uuid", "e": 1900000000}',
        b'{"i": 12, "e": 1900000000}',
        b'{"i": "6f1c2b9e-6a1d-4a53-9d5e-0c1f3b2a4d5e", "e": "1900000000"}',
        b'{"i": "6f1c2b9e-6a1d-4a53-9d5e-0c1f3b2a4d5e", "e": true}',
        b'{"i": "6f1c2b9e-6a1d-4a53-9d5e-0c1f3b2a4d5e"}',
    ],
)
def test_a_correctly_signed_but_malformed_payload_is_refused(payload: bytes) -> None:
    token = signed_over(f"invoice.v1.{b64(payload)}")

    with pytest.raises(InvalidDocumentLink):
        links().invoice_id(token, NOW)


def test_without_configuration_no_link_is_made_and_none_opens() -> None:
    unconfigured = NoDocumentLinks()

    assert unconfigured.invoice_link(INVOICE_ID, NOW) is None
    with pytest.raises(InvalidDocumentLink):
        unconfigured.invoice_id(valid_token(), NOW)


def test_a_link_names_the_kind_of_document_it_opens() -> None:
    note_id = uuid.uuid4()
    invoice_token = valid_token()
    note_token = token_of(links().credit_note_link(note_id, NOW).url)

    assert note_token.startswith(f"{CREDIT_NOTE}.v1.")
    assert links().document(invoice_token, NOW) == LinkedDocument(DocumentKind.INVOICE, INVOICE_ID)
    assert links().document(note_token, NOW) == LinkedDocument(DocumentKind.CREDIT_NOTE, note_id)
    with pytest.raises(InvalidDocumentLink):
        links().invoice_id(note_token, NOW)


def test_a_credit_note_link_relabelled_as_an_invoice_link_is_refused() -> None:
    note_token = token_of(links().credit_note_link(INVOICE_ID, NOW).url)
    relabelled = INVOICE + note_token.removeprefix(CREDIT_NOTE)

    for token in (relabelled, "receipt" + note_token.removeprefix(CREDIT_NOTE), "nonsense"):
        with pytest.raises(InvalidDocumentLink):
            links().document(token, NOW)
    with pytest.raises(DocumentLinkExpired):
        links().document(note_token, NOW + timedelta(days=30))


def test_without_configuration_no_credit_note_link_is_made_and_none_opens() -> None:
    unconfigured = NoDocumentLinks()

    assert unconfigured.credit_note_link(INVOICE_ID, NOW) is None
    with pytest.raises(InvalidDocumentLink):
        unconfigured.document(valid_token(), NOW)
