"""What the web front talks to: the services' HTTP APIs and the session store."""
