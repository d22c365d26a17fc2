"""Page use cases: what each page asks of the services, in the signed-in user's name."""
