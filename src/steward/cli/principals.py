"""CLI command groups for principals: `steward teams|users|apps|agents|service-accounts`."""

from steward.cli._apps_agents import agents_app, apps_app, service_accounts_app
from steward.cli._teams_users import teams_app, users_app

__all__ = ["agents_app", "apps_app", "service_accounts_app", "teams_app", "users_app"]
