"""Ways into notifications: the HTTP API, the worker (consumer, dispatcher, outbox relay) and the CLI."""
