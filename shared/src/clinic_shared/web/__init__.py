"""Flask plumbing every service shares: app factory, problem details, authentication, health and docs."""
