"""Ways into billing: the HTTP API, the worker (event consumer and outbox relay) and the command line."""
