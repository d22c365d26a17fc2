"""Minting access tokens in tests for services that only verify them (billing, notifications)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clinic_shared.tokens import KeySource, SigningKey, TokenVerifier

TEST_ISSUER = "ims-clinic-scheduling"
TEST_AUDIENCE = "ims-clinic"


@dataclass
class TestIssuer:
    """Plays scheduling's token issuer: a fresh key, its JWKS, and tokens for any roles."""

    __test__ = False  # not a pytest test class

    key: SigningKey = field(default_factory=SigningKey.generate)
    issuer: str = TEST_ISSUER
    audience: str = TEST_AUDIENCE

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(KeySource(jwks=self.key.jwks()), issuer=self.issuer, audience=self.audience)

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.key.jwks()))
        return path

    def token(
        self,
        *roles: str,
        patient_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
        practitioner_id: uuid.UUID | None = None,
        ttl: timedelta = timedelta(minutes=15),
        now: datetime | None = None,
    ) -> str:
        return self.key.issue(
            subject=uuid.uuid4(),
            roles=roles,
            issuer=self.issuer,
            audience=self.audience,
            now=now or datetime.now(UTC),
            ttl=ttl,
            claims={"patient_id": patient_id, "clinic_id": clinic_id, "practitioner_id": practitioner_id},
        )

    def headers(
        self,
        *roles: str,
        patient_id: uuid.UUID | None = None,
        clinic_id: uuid.UUID | None = None,
        practitioner_id: uuid.UUID | None = None,
    ) -> dict[str, str]:
        token = self.token(
            *roles, patient_id=patient_id, clinic_id=clinic_id, practitioner_id=practitioner_id
        )
        return {"Authorization": f"Bearer {token}"}
