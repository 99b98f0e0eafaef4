"""The `notifications:` section of the configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WebhookConfig(BaseModel):
    """One webhook receiver and the events it subscribes to."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(description="http:// or https:// URL the events are POSTed to.")
    format: Literal["json", "slack"] = Field(
        "json", description="json: {event, at, payload}; slack: an incoming-webhook message."
    )
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        description='Event types delivered here (e.g. budget.threshold); ["*"] for all.',
    )
    secret: str | None = Field(
        None,
        repr=False,
        description="HMAC-SHA256 key for the x-steward-signature header (use ${ENV}).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, repr=False, description="Extra request headers (use ${ENV})."
    )
    timeout_s: float = Field(5.0, gt=0, le=120, description="Time allowed for one attempt.")
    max_attempts: int = Field(5, ge=1, le=20, description="Attempts before giving up.")
    backoff_ms: float = Field(
        500.0, ge=0, description="Delay before the first retry; doubles after each attempt."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http:// or https:// URL")
        return url

    @field_validator("events")
    @classmethod
    def _some_events(cls, events: list[str]) -> list[str]:
        if not events:
            raise ValueError('list at least one event type, or ["*"] for all')
        return events


class NotificationSettings(BaseModel):
    """Where notifications (budget thresholds, anomalies, ...) are delivered."""

    model_config = ConfigDict(extra="forbid")

    webhooks: list[WebhookConfig] = Field(default_factory=list)
    queue_size: int = Field(
        1000, ge=1, description="Undelivered notifications held per webhook; more are dropped."
    )

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, webhooks: list[WebhookConfig]) -> list[WebhookConfig]:
        seen: set[str] = set()
        for w in webhooks:
            if w.name in seen:
                raise ValueError(f"webhook name '{w.name}' is defined twice")
            seen.add(w.name)
        return webhooks
