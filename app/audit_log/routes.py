"""`/tenants/{tid}/audit-events`."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

bp = APIBlueprint(
    "audit", __name__, url_prefix="/tenants/<uuid:tid>/audit-events", abp_tags=[Tag(name="audit")]
)
