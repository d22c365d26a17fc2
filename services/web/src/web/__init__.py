"""The web front: server-rendered pages for patients and staff over the services' public HTTP APIs."""
