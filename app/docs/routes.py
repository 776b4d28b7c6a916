"""`/openapi.json` and `/docs`: the API document and Swagger UI, served with no CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_openapi3_swagger
from flask import Blueprint, Response, current_app, send_from_directory

from policies import public

SWAGGER_ASSETS = Path(flask_openapi3_swagger.__file__).parent / "templates" / "swagger"
# Every asset is ours; Swagger UI needs inline styles only.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)

DOCS_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Authorization API</title>
  <link rel="stylesheet" href="/docs/assets/css/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/js/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT_JS = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    persistAuthorization: false
  });
};
"""

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
@public("the API document")
def openapi_document() -> dict[str, Any]:
    return current_app.api_doc  # type: ignore[attr-defined]


@bp.get("/docs")
@public("interactive API documentation")
def docs_page() -> Response:
    return Response(DOCS_HTML, mimetype="text/html", headers={"Content-Security-Policy": DOCS_CSP})


@bp.get("/docs/init.js")
@public("interactive API documentation")
def docs_init() -> Response:
    return Response(DOCS_INIT_JS, mimetype="text/javascript")


@bp.get("/docs/assets/<path:filename>")
@public("interactive API documentation assets")
def docs_asset(filename: str) -> Response:
    return send_from_directory(SWAGGER_ASSETS, filename, max_age=3600)
