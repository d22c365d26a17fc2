"""Ways into scheduling: the HTTP API, the worker (outbox relay) and the command line."""
