"""The admin REST API over the identity service."""

from steward.admin.api import create_admin_app

__all__ = ["create_admin_app"]
