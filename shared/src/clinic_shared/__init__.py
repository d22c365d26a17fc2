"""Code every clinic service shares: event contracts, messaging, web plumbing and configuration."""
