"""Which requests are sampled for evaluation: a deterministic function of the request id, so
every process (and a re-run) takes the same decision, at the cost of one hash and a compare."""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import blake2b

from steward.evals.settings import SamplingSettings

_SCALE = float(1 << 64)
EVALS_APP = "steward-evals"  # the judge's own requests are never sampled
# Rates raised at run time by remediation (engineer S's `raise_sampling` action): the snapshot
# section "sampling_overrides", "app:<id>" or "model:<alias>" -> rate. Read by name, so this
# package does not depend on the remediation package.
OVERRIDES_SECTION = "sampling_overrides"
_NONE: Mapping[str, float] = {}


def bucket(request_id: str) -> float:
    """A uniform value in [0, 1) derived from the request id (BLAKE2b, 64 bits)."""
    digest = blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def is_sampled(request_id: str, rate: float) -> bool:
    """Whether the request falls in the sampled share `rate` (0: never, 1: always)."""
    if rate <= 0.0:
        return False
    return rate >= 1.0 or bucket(request_id) < rate


class Sampler:
    """The rate for a request: its app's, else its model's, else the default."""

    def __init__(self, settings: SamplingSettings) -> None:
        self.default = settings.default_rate
        self.apps = dict(settings.apps)
        self.models = dict(settings.models)

    def rate(self, app_name: str | None, model: str | None) -> float:
        """The sampling rate that applies to an app (by name) and a model alias."""
        if app_name is not None and self.apps:
            rate = self.apps.get(app_name)
            if rate is not None:
                return rate
        if model is not None and self.models:
            rate = self.models.get(model)
            if rate is not None:
                return rate
        return self.default

    def sampled(
        self,
        request_id: str,
        app_id: str | None,
        model: str | None,
        names: Mapping[str, str],
        raised: Mapping[str, float] = _NONE,
    ) -> bool:
        """Whether to keep this request; `names` maps principal ids to names (the snapshot's),
        `raised` holds rates remediation raised (the higher of it and the configured rate)."""
        app_name = names.get(app_id) if app_id is not None else None
        if app_name == EVALS_APP:
            return False
        rate = self.rate(app_name, model)
        if raised:
            bump = raised.get(f"app:{app_id}") if app_id is not None else None
            if bump is None and model is not None:
                bump = raised.get(f"model:{model}")
            if bump is not None and bump > rate:
                rate = bump
        return is_sampled(request_id, rate)
