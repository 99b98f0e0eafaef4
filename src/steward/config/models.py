"""The YAML configuration as pydantic models; every key is documented in docs/configuration.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from steward.agents.approvals.settings import ApprovalSettings
from steward.agents.mcp.settings import McpSettings
from steward.catalogue.settings import CatalogueSettings
from steward.drift.settings import DriftSettings
from steward.evals.settings import EvaluationSettings
from steward.guard.settings import GuardSettings
from steward.identity.tokens_settings import AgentTokenSettings
from steward.notify.settings import NotificationSettings
from steward.observability.settings import ObservabilitySettings
from steward.policy.settings import PolicySettings
from steward.providers.sim_degrade import SimDegradeSettings
from steward.remediation.settings import RemediationSettings
from steward.slo.settings import SLOConfig, SloWorkerSettings
from steward.usage.limits.settings import BudgetSettings, RateLimitConfig

ProviderKind = Literal["openai", "anthropic", "sim"]
# the inventory's vocabulary (docs/discovery.md): what data a model, app or agent may touch
DataClass = Literal["public", "internal", "confidential", "pii", "financial", "health", "secret"]
RiskTier = Literal["minimal", "limited", "high", "prohibited"]  # after the EU AI Act


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimSettings(_Strict):
    """Behaviour of the built-in simulator (provider kind `sim`)."""

    latency_ms: float = Field(0.0, ge=0, description="Delay before the first token.")
    token_latency_ms: float = Field(0.0, ge=0, description="Delay between streamed chunks.")
    error_rate: float = Field(
        0.0, ge=0, le=1, description="Share of requests answered with an error."
    )
    error_status: int = Field(503, ge=400, le=599, description="HTTP status of simulated errors.")
    seed: int = Field(0, description="Seed for the deterministic error draw and answers.")
    embedding_dimensions: int = Field(64, ge=1, le=4096)
    degrade: SimDegradeSettings | None = Field(
        None, description="Answers turn into refusals or drift off topic mid-run."
    )


class ProviderConfig(_Strict):
    """One upstream: an API endpoint of a given wire format, with its credentials and pool."""

    kind: ProviderKind
    base_url: str | None = None
    api_key: str | None = Field(None, repr=False, description="Use ${ENV_VAR}; never stored.")
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    timeout_s: float = Field(60.0, gt=0, description="Total time allowed for one upstream attempt.")
    connect_timeout_s: float = Field(5.0, gt=0)
    max_connections: int = Field(100, ge=1)
    retries: int = Field(
        1, ge=0, le=10, description="Retries on 429/5xx/timeouts before fallbacks."
    )
    backoff_ms: float = Field(100.0, ge=0, description="First retry delay; doubles each retry.")
    anthropic_version: str = "2023-06-01"
    sim: SimSettings = Field(default_factory=SimSettings)

    @model_validator(mode="after")
    def _needs_url(self) -> ProviderConfig:
        if self.kind != "sim" and not self.base_url:
            raise ValueError(f"providers of kind '{self.kind}' need a base_url")
        return self


class PriceConfig(_Strict):
    """A price override in USD per million tokens. Cache and reasoning tokens are parts of input
    and output respectively: cached input is billed at `cache_read_per_mtok` instead of
    `input_per_mtok`, never on top of it."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(None, ge=0)
    cache_write_per_mtok: float | None = Field(None, ge=0)


class ModelConfig(_Strict):
    """A model alias clients ask for, bound to one provider's upstream model."""

    name: str = Field(min_length=1)
    provider: str
    upstream_model: str | None = None
    kind: Literal["chat", "embedding"] = "chat"
    fallbacks: list[str] = Field(default_factory=list)
    price: PriceConfig | None = None
    price_model: str | None = Field(
        None, description="Look the price up under this model name instead of upstream_model."
    )
    timeout_s: float | None = Field(None, gt=0)
    description: str = ""
    owner: str | None = Field(None, description="Accountable user (name), for the inventory.")
    purpose: str = ""
    data_classes: list[DataClass] = Field(default_factory=list)
    risk_tier: RiskTier | None = None

    @property
    def target(self) -> str:
        return self.upstream_model or self.name


class PriceOverrideConfig(PriceConfig):
    """A price for every model matching `model` (a glob on the alias, upstream or price model)
    on providers matching `provider` (a glob on the provider's name; any when omitted)."""

    model: str = Field(min_length=1)
    provider: str | None = None


class DiscountConfig(_Strict):
    """A contract discount: matching models' resolved rates are multiplied by 1 - percent/100."""

    provider: str | None = None
    model: str = "*"
    percent: float = Field(gt=0, le=100)


class PricingConfig(_Strict):
    """Price rules beyond a model's own `price`; the first matching entry of each list wins."""

    overrides: list[PriceOverrideConfig] = Field(default_factory=list)
    discounts: list[DiscountConfig] = Field(default_factory=list)


class SpoolConfig(_Strict):
    """The local append-only event spool. Events are durable here before a response completes."""

    dir: str | None = Field(None, description="Default: <data_dir>/spool")
    sync: Literal["fsync", "write"] = Field(
        "fsync",
        description="fsync: group-committed fdatasync before each response (survives power loss). "
        "write: the OS has the bytes before each response (survives a process crash).",
    )
    segment_bytes: int = Field(16 * 1024 * 1024, ge=4096)
    ship_interval_ms: int = Field(200, ge=10)
    ship_batch: int = Field(2000, ge=1)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8400, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    state_poll_ms: int = Field(500, ge=50, le=1000, description="Snapshot refresh check interval.")


class StewardConfig(_Strict):
    """The whole configuration file."""

    organisation: str = Field(
        "default", min_length=1, max_length=200, description="The organisation's name in reports."
    )
    database_url: str | None = Field(None, description="Default: sqlite:///<data_dir>/steward.db")
    redis_url: str | None = None
    data_dir: str | None = Field(None, description="Default: STEWARD_DATA_DIR or ./.steward")
    server: ServerConfig = Field(default_factory=ServerConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: list[ModelConfig] = Field(default_factory=list)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    rate_limits: list[RateLimitConfig] = Field(default_factory=list)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    agents: AgentTokenSettings = Field(default_factory=AgentTokenSettings)
    catalogue: CatalogueSettings = Field(default_factory=CatalogueSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    slos: list[SLOConfig] = Field(default_factory=list)  # docs/slos.md
    slo_worker: SloWorkerSettings = Field(default_factory=SloWorkerSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    remediation: RemediationSettings = Field(default_factory=RemediationSettings)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        seen: set[str] = set()
        for m in models:
            if m.name in seen:
                raise ValueError(f"model name '{m.name}' is defined twice")
            seen.add(m.name)
        return models

    @model_validator(mode="after")
    def _slo_references(self) -> StewardConfig:
        from steward.slo.checks import check_references

        check_references(self)
        return self

    @model_validator(mode="after")
    def _references(self) -> StewardConfig:
        names = {m.name for m in self.models}
        for i, m in enumerate(self.models):
            if m.provider not in self.providers:
                known = ", ".join(sorted(self.providers)) or "none"
                raise ValueError(
                    f"models[{i}] ('{m.name}'): provider '{m.provider}' is not defined "
                    f"(providers: {known})"
                )
            for fb in m.fallbacks:
                if fb not in names:
                    raise ValueError(f"models[{i}] ('{m.name}'): fallback '{fb}' is not a model")
                if fb == m.name:
                    raise ValueError(
                        f"models[{i}] ('{m.name}'): a model cannot fall back to itself"
                    )
                fb_kind = next(x.kind for x in self.models if x.name == fb)
                if fb_kind != m.kind:
                    raise ValueError(
                        f"models[{i}] ('{m.name}'): fallback '{fb}' is a {fb_kind} model, "
                        f"not a {m.kind} model"
                    )
            if m.kind == "embedding" and self.providers[m.provider].kind == "anthropic":
                raise ValueError(f"models[{i}] ('{m.name}'): anthropic has no embeddings API")
        for i, a in enumerate(self.guard.attach):
            if a.model and a.model not in names:
                raise ValueError(f"guard.attach[{i}]: model '{a.model}' is not defined")
            if a.provider and a.provider not in self.providers:
                raise ValueError(f"guard.attach[{i}]: provider '{a.provider}' is not defined")
        return self

    def model(self, name: str) -> ModelConfig | None:
        for m in self.models:
            if m.name == name:
                return m
        return None
