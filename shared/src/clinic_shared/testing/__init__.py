"""Helpers for tests that run against real PostgreSQL and RabbitMQ (imported by tests only)."""
