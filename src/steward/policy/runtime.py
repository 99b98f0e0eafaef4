"""Build a process's policy engine from the configuration (file sets compiled at start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.policy.engine import PolicyEngine, model_infos
from steward.policy.files import read_directory
from steward.policy.sets import PolicyError, PolicySource

if TYPE_CHECKING:
    from steward.config.models import StewardConfig


def build_engine(config: StewardConfig) -> PolicyEngine:
    """The engine for `config`; raises steward.config.ConfigError if a policy file is invalid,
    so a gateway never starts with half its policies."""
    from steward.config.loader import ConfigError

    settings = config.policy
    try:
        files: list[PolicySource] = (
            read_directory(settings.directory, settings.shadow) if settings.directory else []
        )
        if settings.shadow and not settings.directory:
            raise PolicyError("policy.shadow", ["policy.shadow needs policy.directory"])
        return PolicyEngine(settings, model_infos(config.models), files)
    except PolicyError as exc:
        raise ConfigError(f"policy: {exc}") from exc
    except ValueError as exc:  # the schema (from policy.arguments) does not parse
        raise ConfigError(f"policy: the generated Cedar schema is invalid: {exc}") from exc


__all__ = ["build_engine"]
