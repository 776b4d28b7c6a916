"""`/tenants`."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

bp = APIBlueprint("tenants", __name__, url_prefix="/tenants", abp_tags=[Tag(name="tenants")])
