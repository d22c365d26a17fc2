"""Settings, token verification keys and the event subscription, as billing wires them."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing.adapters.document_links import NoDocumentLinks, SignedDocumentLinks
from billing.bootstrap import document_links, key_source
from billing.config import DEFAULT_JWKS_URL, BillingSettings
from billing.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from clinic_shared.events import CATALOG
from clinic_shared.settings import ConfigError
from clinic_shared.testing.tokens import TestIssuer
from clinic_shared.tokens import TokenVerifier


def test_defaults_to_an_embedded_database_under_var_dir_and_port_8002() -> None:
    settings = BillingSettings.from_env({"VAR_DIR": "/srv/clinic"})
    assert settings.common.database_url == "sqlite:////srv/clinic/billing.db"
    assert settings.common.service_name == "billing"
    assert settings.port == 8002


def test_reads_its_own_database_url_and_port() -> None:
    settings = BillingSettings.from_env(
        {"BILLING_DATABASE_URL": "postgresql://billing@db/billing", "BILLING_PORT": "9002"}
    )
    assert settings.common.database_url == "postgresql://billing@db/billing"
    assert settings.port == 9002


def test_verifies_tokens_against_a_jwks_file(tmp_path: Path) -> None:
    issuer = TestIssuer()
    settings = BillingSettings.from_env({"JWKS_FILE": str(issuer.write_jwks(tmp_path / "jwks.json"))})
    common = settings.common
    verifier = TokenVerifier(key_source(common), issuer=common.jwt_issuer, audience=common.jwt_audience)
    assert verifier.verify(issuer.token("billing")).roles == {"billing"}


def test_falls_back_to_schedulings_local_jwks_url() -> None:
    source = key_source(BillingSettings.from_env({}).common)
    assert source._url == DEFAULT_JWKS_URL  # private: nothing listens in a unit test


def test_subscribes_to_exactly_the_scheduling_events_it_handles() -> None:
    assert dict(SUBSCRIPTION.bindings) == {"scheduling.events": sorted(HANDLERS)}
    assert SUBSCRIPTION.queue == "billing"
    for event_type in HANDLERS:
        assert CATALOG.latest_version(event_type) >= 1


LINK_SECRET = "s3cret-" * 6


def test_document_links_are_off_unless_both_the_public_url_and_the_secret_are_set() -> None:
    for environ in (
        {},
        {"BILLING_PUBLIC_URL": "https://billing.example"},
        {"DOCUMENT_LINK_SECRET": LINK_SECRET},
    ):
        assert isinstance(document_links(BillingSettings.from_env(environ)), NoDocumentLinks)
    settings = BillingSettings.from_env(
        {"BILLING_PUBLIC_URL": "https://billing.example/", "DOCUMENT_LINK_SECRET": LINK_SECRET}
    )
    assert isinstance(document_links(settings), SignedDocumentLinks)
    assert settings.public_url == "https://billing.example"
    assert settings.document_link_ttl_days == 30


def test_reads_the_document_link_lifetime_in_days() -> None:
    assert BillingSettings.from_env({"DOCUMENT_LINK_TTL_DAYS": "7"}).document_link_ttl_days == 7


def test_keeps_idempotency_keys_a_week_unless_told_otherwise() -> None:
    assert BillingSettings.from_env({}).idempotency_key_retention_hours == 168
    settings = BillingSettings.from_env({"IDEMPOTENCY_KEY_RETENTION_HOURS": "72"})
    assert settings.idempotency_key_retention_hours == 72


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DOCUMENT_LINK_SECRET": "x" * 31}, "DOCUMENT_LINK_SECRET must be at least 32 characters"),
        ({"BILLING_PUBLIC_URL": "billing.example"}, "BILLING_PUBLIC_URL"),
        ({"BILLING_PUBLIC_URL": "ftp://billing.example"}, "BILLING_PUBLIC_URL"),
        ({"BILLING_PUBLIC_URL": "https://billing.example/?a=1"}, "BILLING_PUBLIC_URL"),
        ({"DOCUMENT_LINK_TTL_DAYS": "0"}, "DOCUMENT_LINK_TTL_DAYS"),
        ({"DOCUMENT_LINK_TTL_DAYS": "thirty"}, "DOCUMENT_LINK_TTL_DAYS"),
        ({"IDEMPOTENCY_KEY_RETENTION_HOURS": "0"}, "IDEMPOTENCY_KEY_RETENTION_HOURS"),
        ({"IDEMPOTENCY_KEY_RETENTION_HOURS": "a week"}, "IDEMPOTENCY_KEY_RETENTION_HOURS"),
    ],
)
def test_bad_document_link_settings_stop_start_up_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        BillingSettings.from_env(environ)


def test_the_link_secret_stays_out_of_the_settings_repr() -> None:
    settings = BillingSettings.from_env({"DOCUMENT_LINK_SECRET": LINK_SECRET})
    assert LINK_SECRET not in repr(settings)
