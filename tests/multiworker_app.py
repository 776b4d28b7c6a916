"""The app under the multi-worker test: the real app, telling which worker answered."""

from __future__ import annotations

import os

from flask import Flask, Response

from app import create_app


def create() -> Flask:
    app = create_app()

    @app.after_request
    def _served_by(response: Response) -> Response:
        response.headers["X-Served-By"] = str(os.getpid())
        return response

    return app
