"""Policy as code with Cedar: the schema, policy sets (files and the store, enforce or shadow),
the engine that decides model invocations and tool calls, tests and explanations."""

from steward.policy.engine import Decision, PolicyEngine
from steward.policy.sets import PolicyError, PolicySource
from steward.policy.settings import PolicySettings

__all__ = ["Decision", "PolicyEngine", "PolicyError", "PolicySettings", "PolicySource"]
