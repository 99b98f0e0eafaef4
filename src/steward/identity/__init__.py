"""Identity: principals (teams, users, apps, agents, service accounts), keys and admin keys."""

from steward.identity.durations import parse_duration
from steward.identity.errors import Conflict, Invalid, NotFound, ServiceError
from steward.identity.keys import generate_key, hash_key
from steward.identity.records import (
    SYSTEM_ACTOR,
    Actor,
    AdminKeyInfo,
    AgentInfo,
    ApiKeyInfo,
    AppInfo,
    AuditEntry,
    ServiceAccountInfo,
    TeamInfo,
    UserInfo,
)
from steward.identity.service import IdentityService
from steward.identity.state import bump_version, current_version

__all__ = [
    "SYSTEM_ACTOR",
    "Actor",
    "AdminKeyInfo",
    "AgentInfo",
    "ApiKeyInfo",
    "AppInfo",
    "AuditEntry",
    "Conflict",
    "IdentityService",
    "Invalid",
    "NotFound",
    "ServiceAccountInfo",
    "ServiceError",
    "TeamInfo",
    "UserInfo",
    "bump_version",
    "current_version",
    "generate_key",
    "hash_key",
    "parse_duration",
]
