"""Guard profiles: which action each finding gets, per direction, and where profiles attach.

A finding's action comes from the most specific rule of a profile (entity, then data class, then
`*`). When several profiles apply to a request (the default, the model's and providers' of every
deployment it may be routed to, the team's, the app's, the agent's) the strictest action wins,
so an attachment can tighten protection but never loosen another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal[
    "allow", "log", "pseudonymize", "mask", "hash", "redact", "require_approval", "block"
]
Direction = Literal["input", "output"]

RANK: dict[str, int] = {
    "allow": 0,
    "log": 1,
    "pseudonymize": 2,
    "mask": 3,
    "hash": 3,
    "redact": 4,
    "require_approval": 5,
    "block": 6,
}
DATA_CLASSES = ("pii", "secret", "confidential", "injection")


class GuardProfile(BaseModel):
    """Rules per direction: keys are an entity (`CREDIT_CARD`), a data class (`pii`, `secret`,
    `confidential`, `injection`) or `*`; values are actions."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    input: dict[str, Action] = Field(default_factory=dict)
    output: dict[str, Action] = Field(default_factory=dict)
    min_score: float = Field(0.5, ge=0, le=1, description="Findings scored below are ignored.")
    fail_open: bool = Field(
        False, description="On a detector error, let the request through (an event either way)."
    )

    def action(self, direction: Direction, entity: str, data_class: str) -> Action:
        rules = self.input if direction == "input" else self.output
        return rules.get(entity) or rules.get(data_class) or rules.get("*") or "allow"


class GuardAttachment(BaseModel):
    """Attach a profile to one app, team, agent, model alias or provider (by name)."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    app: str | None = None
    team: str | None = None
    agent: str | None = None
    model: str | None = None
    provider: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> GuardAttachment:
        targets = [t for t in (self.app, self.team, self.agent, self.model, self.provider) if t]
        if len(targets) != 1:
            raise ValueError("name exactly one of app, team, agent, model or provider")
        return self


DEFAULT_PROFILE = GuardProfile(
    description="Built in: secrets and payment cards are redacted before any provider sees "
    "them and in answers; other personal data, confidential matches and injection attempts "
    "are logged.",
    input={"secret": "redact", "CREDIT_CARD": "redact", "*": "log"},
    output={"secret": "redact", "CREDIT_CARD": "redact", "*": "log"},
)


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one finding and the profile that decided it."""

    action: Action
    profile: str


class ProfileSet:
    """The profiles that apply to one request, merged strictest-wins."""

    def __init__(self, profiles: list[tuple[str, GuardProfile]]) -> None:
        self.profiles = profiles
        self.fail_open = all(p.fail_open for _, p in profiles)
        self.min_score = min(p.min_score for _, p in profiles)
        self.names = tuple(name for name, _ in profiles)

    def decide(self, direction: Direction, entity: str, data_class: str, score: float) -> Decision:
        best = Decision("allow", self.names[0])
        for name, profile in self.profiles:
            if score < profile.min_score:
                continue
            act = profile.action(direction, entity, data_class)
            if RANK[act] > RANK[best.action]:
                best = Decision(act, name)
        return best

    def active(self, direction: Direction) -> bool:
        """False when every rule in this direction is `allow` (nothing to scan for)."""
        for _, p in self.profiles:
            rules = p.input if direction == "input" else p.output
            if any(a != "allow" for a in rules.values()):
                return True
        return False
