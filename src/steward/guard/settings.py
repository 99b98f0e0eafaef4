"""The `guard:` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from steward.guard.config import DetectorConfig
from steward.guard.profiles import DEFAULT_PROFILE, GuardAttachment, GuardProfile


class GuardSettings(BaseModel):
    """Data protection: detectors, profiles (finding -> action) and where profiles attach."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Scan requests and answers at all.")
    profiles: dict[str, GuardProfile] = Field(
        default_factory=dict,
        description="Named profiles; `default` (built in unless redefined) always applies.",
    )
    attach: list[GuardAttachment] = Field(default_factory=list)
    detectors: DetectorConfig = Field(default_factory=DetectorConfig)
    hash_key: str | None = Field(
        None,
        repr=False,
        description="Key for keyed hashes of findings (use ${ENV}); default: a random key kept "
        "in <data_dir>/guard-key.",
    )
    stream_max_hold: int = Field(
        2048,
        ge=512,
        le=65536,
        description="Most characters a stream may hold back while scanning (one long token, "
        "such as a JWT, is held whole up to this length).",
    )

    @model_validator(mode="after")
    def _known_profiles(self) -> GuardSettings:
        names = set(self.profiles) | {"default"}
        for i, a in enumerate(self.attach):
            if a.profile not in names:
                known = ", ".join(sorted(names))
                raise ValueError(f"attach[{i}]: profile '{a.profile}' is not defined ({known})")
        return self

    def profile(self, name: str) -> GuardProfile:
        if name in self.profiles:
            return self.profiles[name]
        return DEFAULT_PROFILE
