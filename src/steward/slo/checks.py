"""Cross-checks between the `slos:`, `remediation:`, `models:` and `guard:` sections, run when
the configuration is loaded, so a rule never names an SLO, alias or profile that does not exist."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steward.config.models import StewardConfig


def check_references(config: StewardConfig) -> None:
    """Raise ValueError naming the first dangling reference."""
    models = {m.name: m for m in config.models}
    seen: set[str] = set()
    for i, slo in enumerate(config.slos):
        if slo.name in seen:
            raise ValueError(f"slos[{i}]: SLO name '{slo.name}' is defined twice")
        seen.add(slo.name)
        if slo.model is not None and slo.model not in models:
            raise ValueError(f"slos[{i}] ('{slo.name}'): model '{slo.model}' is not defined")
    profiles = set(config.guard.profiles) | {"default"}
    for i, rule in enumerate(config.remediation.rules):
        where = f"remediation.rules[{i}] ('{rule.name}')"
        t, a = rule.trigger, rule.action
        if t.slo is not None and t.slo not in seen:
            raise ValueError(f"{where}: trigger slo '{t.slo}' is not defined in slos")
        for what, alias in (("trigger", t.model), ("action", a.model)):
            if alias is not None and alias not in models:
                raise ValueError(f"{where}: {what} model '{alias}' is not defined")
        if a.kind == "reroute" and a.model is not None and not models[a.model].fallbacks:
            raise ValueError(f"{where}: model '{a.model}' has no fallbacks to reroute to")
        if a.profile is not None and a.profile not in profiles:
            raise ValueError(f"{where}: guard profile '{a.profile}' is not defined")


__all__ = ["check_references"]
