"""The `policy:` section of the configuration: where policy files live, the default outcomes
when no policy decides, typed tool arguments, and model groups."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ArgumentType = Literal["String", "Long", "Bool", "Decimal", "Set<String>", "Set<Long>"]
_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PolicySettings(BaseModel):
    """Cedar policy: policy files, per-set modes, defaults and the schema's typed arguments."""

    model_config = ConfigDict(extra="forbid")

    directory: str | None = Field(
        None,
        description="A directory of `*.cedar` files, one policy set per file (named after the "
        "file), loaded by every gateway process at start. Relative to the working directory.",
    )
    shadow: list[str] = Field(
        default_factory=list,
        description="Names of policy sets from `directory` that run in shadow (log-only) mode.",
    )
    default_model_access: Literal["permit", "deny"] = Field(
        "permit",
        description="`permit`: every principal may invoke every model unless a policy forbids "
        "it (a built-in permit); `deny`: only what a policy permits.",
    )
    default_tool_access: Literal["deny_agents", "deny"] = Field(
        "deny_agents",
        description="`deny_agents`: agents may call only the tools a policy permits, other "
        "principals every tool unless forbidden; `deny`: nobody calls a tool no policy permits.",
    )
    arguments: dict[str, ArgumentType] = Field(
        default_factory=dict,
        description="Tool arguments that policies may read as `context.arguments.NAME`, with "
        "their Cedar type (e.g. `amount: Long`). A call whose argument has another type is "
        "denied.",
    )
    model_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Named groups of model aliases: `resource in ModelGroup::"NAME"`.',
    )

    @field_validator("arguments")
    @classmethod
    def _argument_names(cls, value: dict[str, ArgumentType]) -> dict[str, ArgumentType]:
        for name in value:
            if not _ATTR.match(name):
                raise ValueError(
                    f"argument name '{name}' is not a Cedar identifier (letters, digits, _)"
                )
        return value


__all__ = ["ArgumentType", "PolicySettings"]
