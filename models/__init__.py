"""SQLAlchemy 2 models. This package never imports `app`."""

from models.app_permission import ApplicationPermission
from models.audit import AuditEvent
from models.base import Base, utcnow
from models.client import Client
from models.project import Project
from models.resource import Resource
from models.role import Role, RolePermission
from models.session import LoginSession
from models.tenant import PLATFORM_TENANT_SLUG, Tenant, TenantStatus
from models.token_epoch import EPOCH_ROW_ID, TokenStateEpoch
from models.user import User, UserRole, username_key, username_skeleton

__all__ = [
    "EPOCH_ROW_ID",
    "PLATFORM_TENANT_SLUG",
    "ApplicationPermission",
    "AuditEvent",
    "Base",
    "Client",
    "LoginSession",
    "Project",
    "Resource",
    "Role",
    "RolePermission",
    "Tenant",
    "TenantStatus",
    "TokenStateEpoch",
    "User",
    "UserRole",
    "username_key",
    "username_skeleton",
    "utcnow",
]
