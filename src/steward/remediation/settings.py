"""The `remediation:` section of the configuration: rules that bind a trigger to an action."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from steward.slo.settings import Duration, Name

TriggerKind = Literal["slo_burn", "drift", "guard_spike", "cost_anomaly", "upstream_error_rate"]
ActionKind = Literal[
    "notify", "reroute", "raise_sampling", "guard_profile", "require_approval", "suspend"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerConfig(_Strict):
    """What makes a rule fire. Keys that do not apply to the kind are rejected."""

    kind: TriggerKind
    slo: str | None = Field(None, description="slo_burn: the SLO's name.")
    severity: Literal["page", "ticket", "warn", "alert"] | None = Field(
        None,
        description="slo_burn: page or ticket (the least severe that fires; default page); "
        "drift: warn or alert (default alert).",
    )
    metric: str | None = Field(None, description="drift: only this metric (default: any).")
    model: str | None = Field(None, description="Only this model alias (default: any).")
    app: str | None = Field(None, description="Only this app, by name or id (default: any).")
    data_class: str | None = Field(None, description="guard_spike: only findings of this class.")
    window: Duration | None = Field(
        None,
        description="drift: how recent a drift event must be (default 1h); guard_spike, "
        "cost_anomaly, upstream_error_rate: the window measured (default 15m, 1h, 5m).",
    )
    baseline: Duration | None = Field(
        None, description="guard_spike, cost_anomaly: the baseline window (default 24h, 7d)."
    )
    factor: float | None = Field(
        None, gt=1, description="guard_spike, cost_anomaly: rate over baseline (default 3)."
    )
    minimum: float | None = Field(
        None,
        ge=0,
        description="guard_spike: findings (default 20); cost_anomaly: USD (default 1); "
        "upstream_error_rate: requests (default 20) in the window before it can fire.",
    )
    threshold: float | None = Field(
        None, gt=0, le=1, description="upstream_error_rate: share of 5xx answers (default 0.2)."
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> TriggerConfig:
        allowed = _TRIGGER_KEYS[self.kind]
        extra = [k for k in _OPTIONAL_KEYS if getattr(self, k) is not None and k not in allowed]
        if extra:
            raise ValueError(f"trigger {self.kind} does not take {', '.join(extra)}")
        if self.kind == "slo_burn" and not self.slo:
            raise ValueError("slo_burn triggers need slo (an SLO's name)")
        if self.severity is not None:
            ok = ("page", "ticket") if self.kind == "slo_burn" else ("warn", "alert")
            if self.severity not in ok:
                raise ValueError(f"{self.kind} severity must be one of {', '.join(ok)}")
        return self


_OPTIONAL_KEYS = (
    "slo", "severity", "metric", "model", "app", "data_class", "window", "baseline", "factor",
    "minimum", "threshold",
)  # fmt: skip
_TRIGGER_KEYS: dict[str, set[str]] = {
    "slo_burn": {"slo", "severity"},
    "drift": {"severity", "metric", "model", "app", "window"},
    "guard_spike": {"model", "app", "data_class", "window", "baseline", "factor", "minimum"},
    "cost_anomaly": {"model", "app", "window", "baseline", "factor", "minimum"},
    "upstream_error_rate": {"model", "window", "minimum", "threshold"},
}


class ActionConfig(_Strict):
    """What a rule does. Targets default to what the trigger is about (its model or app)."""

    kind: ActionKind
    model: str | None = Field(None, description="reroute, raise_sampling: the model alias.")
    app: str | None = Field(
        None, description="raise_sampling, guard_profile, suspend: the app (name or id)."
    )
    agent: str | None = Field(None, description="require_approval, suspend: the agent.")
    rate: float | None = Field(None, gt=0, le=1, description="raise_sampling: the new rate.")
    profile: str | None = Field(None, description="guard_profile: the stricter profile.")
    message: str = Field("", max_length=2000, description="Text added to notifications.")

    @model_validator(mode="after")
    def _needs(self) -> ActionConfig:
        if self.kind == "raise_sampling" and self.rate is None:
            raise ValueError("raise_sampling needs rate")
        if self.kind == "guard_profile" and not self.profile:
            raise ValueError("guard_profile needs profile")
        if self.kind == "require_approval" and not self.agent:
            raise ValueError("require_approval needs agent")
        if self.kind == "suspend" and self.app and self.agent:
            raise ValueError("suspend takes app or agent, not both")
        return self


class RuleConfig(_Strict):
    """A trigger bound to an action, applied automatically or proposed to a human."""

    name: Name
    description: str = ""
    trigger: TriggerConfig
    action: ActionConfig
    mode: Literal["auto", "propose"] = Field(
        "propose", description="auto: act at once; propose: wait for `steward remediation confirm`."
    )
    cooldown: Duration = Field(
        "1h", description="No new action for the same rule and trigger within this."
    )
    revert: Literal["manual", "auto"] = Field(
        "manual", description="auto: undo the action once the trigger has been clear for clear_for."
    )
    clear_for: Duration = Field("30m", description="How long the trigger must stay clear.")
    proposal_ttl: Duration = Field(
        "24h", description="A proposal not confirmed within this expires."
    )


class RemediationSettings(_Strict):
    """Rules evaluated by the SLO scheduler after SLOs and drift."""

    rules: list[RuleConfig] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[RuleConfig]) -> list[RuleConfig]:
        seen: set[str] = set()
        for r in rules:
            if r.name in seen:
                raise ValueError(f"rule name '{r.name}' is defined twice")
            seen.add(r.name)
        return rules


__all__ = [
    "ActionConfig",
    "ActionKind",
    "RemediationSettings",
    "RuleConfig",
    "TriggerConfig",
    "TriggerKind",
]
