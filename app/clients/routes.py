"""`/tenants/{tid}/clients`."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

bp = APIBlueprint(
    "clients", __name__, url_prefix="/tenants/<uuid:tid>/clients", abp_tags=[Tag(name="clients")]
)
