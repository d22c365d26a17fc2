"""The Flask app, its views, templates and static files."""
