"""Reliable messaging over RabbitMQ: outbox tables and writer, confirmed relay, idempotent consumers."""
