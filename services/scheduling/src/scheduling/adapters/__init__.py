"""Scheduling's adapters: database tables and repositories, password hashing, Alembic migrations."""
