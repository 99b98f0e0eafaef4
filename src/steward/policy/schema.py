"""The Cedar schema Steward's policies are validated against: the entity types built from the
store and the configuration, the actions, and the request context (with the configured typed
tool arguments). It is generated once per process from the settings and parsed once."""

from __future__ import annotations

import cedarpy

from steward.policy.settings import PolicySettings

ACTIONS: tuple[str, ...] = ("invoke_model", "call_tool")
PRINCIPAL_TYPES: tuple[str, ...] = ("User", "App", "Agent", "Service")

_ENTITIES = """\
// Steward's Cedar schema (generated; see docs/policies.md).
entity Team = { name: String };
entity DataClass;
entity User in [Team] = { name: String, id: String, email?: String, suspended: Bool };
entity App in [Team] = {
  name: String, id: String, owner?: User, team?: Team, risk_tier?: String,
  data_classes: Set<DataClass>, suspended: Bool
};
entity Agent in [Team] = {
  name: String, id: String, owner: User, sponsor?: User, team?: Team, status: String,
  risk_tier: String, purpose: String, data_classes: Set<DataClass>
};
entity Service in [Team] = { name: String, id: String, team?: Team };
entity ModelGroup;
entity Model in [ModelGroup] = {
  name: String, provider: String, kind: String, risk_tier?: String,
  data_classes: Set<DataClass>
};
entity ToolServer;
entity Tool in [ToolServer] = { name: String, server: String };

type Time = { epoch: Long, hour: Long, weekday: Long };
"""

# context attributes common to every action; `key_models` is set for keys limited to models
_COMMON = """\
  time: Time,
  endpoint: String,
  chain: Set<Agent>,
  chain_depth: Long,
  on_behalf_of?: User,
  acting_agent?: Agent,
  key_models?: Set<Model>,
  findings: Set<String>,
  data_classes: Set<DataClass>"""

_CEDAR_TYPES = {
    "String": "String",
    "Long": "Long",
    "Bool": "Bool",
    "Decimal": "decimal",
    "Set<String>": "Set<String>",
    "Set<Long>": "Set<Long>",
}


def schema_text(settings: PolicySettings) -> str:
    """The schema in Cedar's human-readable syntax, with the configured tool arguments."""
    args = ",\n  ".join(
        f"{name}?: {_CEDAR_TYPES[kind]}" for name, kind in sorted(settings.arguments.items())
    )
    principals = ", ".join(PRINCIPAL_TYPES)
    return (
        _ENTITIES
        + f"type Arguments = {{\n  {args}\n}};\n\n"
        + f"type ModelContext = {{\n{_COMMON}\n}};\n"
        + f"type ToolContext = {{\n{_COMMON},\n"
        "  arguments: Arguments,\n  argument_names: Set<String>,\n  arguments_json: String\n};\n\n"
        f"action invoke_model appliesTo {{\n  principal: [{principals}],\n"
        "  resource: [Model],\n  context: ModelContext\n};\n"
        f"action call_tool appliesTo {{\n  principal: [{principals}],\n"
        "  resource: [Tool],\n  context: ToolContext\n};\n"
    )


def build_schema(settings: PolicySettings) -> cedarpy.Schema:
    """Parse the generated schema once (ValueError names what is wrong)."""
    return cedarpy.Schema.from_str(schema_text(settings))


__all__ = ["ACTIONS", "PRINCIPAL_TYPES", "build_schema", "schema_text"]
