"""Alembic environment for billing's database."""

from billing.adapters.orm import metadata
from clinic_shared.migrations import run_env

run_env(metadata)
