"""Swagger UI served from files vendored in this package (nothing loads from a CDN)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

from clinic_shared.web.auth import public

STATIC = Path(__file__).parent / "static" / "swagger-ui"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body></html>"""
# A file rather than an inline script, so the page's Content-Security-Policy allows only the site's scripts.
_START = 'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});\n'


def docs_blueprint(title: str) -> Blueprint:
    bp = Blueprint("docs", __name__, static_folder=str(STATIC), static_url_path="/docs/static")

    @bp.get("/docs")
    @public
    def swagger_ui() -> Response:
        return Response(_PAGE.format(title=title), mimetype="text/html")

    @bp.get("/docs/start.js")
    @public
    def swagger_start() -> Response:
        return Response(_START, mimetype="text/javascript")

    return bp
