"""Billing's adapters: database tables and repositories, Alembic migrations."""
