"""The identity service: the one place that changes principals and keys. The admin API and the
CLI are thin front ends over it, so every rule lives here once."""

from __future__ import annotations

from steward.identity._admin_keys import AdminKeysMixin
from steward.identity._api_keys import ApiKeysMixin
from steward.identity._apps_agents import AppsAgentsMixin
from steward.identity._teams_users import TeamsUsersMixin


class IdentityService(TeamsUsersMixin, AppsAgentsMixin, ApiKeysMixin, AdminKeysMixin):
    """Teams, users, apps, agents, service accounts, API keys, admin keys and the audit trail.

    Construct with a session factory (`steward.store.db.session_factory(engine)`). Every
    mutation commits, in one transaction, the change, an audit event and a state-version bump
    so gateway processes reload their snapshot. Methods return plain records, never ORM rows.
    Pass `engine=` to let `close()` dispose of an engine the service owns."""

    def __enter__(self) -> IdentityService:
        return self


__all__ = ["IdentityService"]
