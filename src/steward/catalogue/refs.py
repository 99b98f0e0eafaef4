"""Names of models in the catalogue: an alias by its name, an upstream model as
`provider/upstream_model`. Resolved against the configuration so typos fail early."""

from __future__ import annotations

from dataclasses import dataclass

from steward.catalogue.spec import Kind, upstream_ref
from steward.config.models import ModelConfig, StewardConfig
from steward.identity.errors import Invalid


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model the catalogue can hold: an alias or a provider's upstream model."""

    kind: Kind
    name: str  # the alias, or `provider/model`

    @property
    def provider(self) -> str | None:
        return self.name.split("/", 1)[0] if self.kind == "upstream" else None

    @property
    def upstream(self) -> str | None:
        return self.name.split("/", 1)[1] if self.kind == "upstream" else None


def alias_upstream(alias: ModelConfig) -> ModelRef:
    """The upstream model an alias is configured to call."""
    return ModelRef("upstream", upstream_ref(alias.provider, alias.target))


def resolve(config: StewardConfig, text: str) -> ModelRef:
    """`chat-fast` (a configured alias) or `provider/model` (a configured provider's model)."""
    text = text.strip()
    if not text:
        raise Invalid(
            "give a model: an alias name or provider/upstream_model", code="invalid_model"
        )
    if config.model(text) is not None:
        return ModelRef("alias", text)
    provider, sep, model = text.partition("/")
    if sep and model and provider in config.providers:
        return ModelRef("upstream", text)
    aliases = ", ".join(m.name for m in config.models) or "none"
    providers = ", ".join(sorted(config.providers)) or "none"
    raise Invalid(
        f"'{text}' is neither a configured alias ({aliases}) nor provider/upstream_model with a "
        f"configured provider ({providers})",
        code="unknown_model",
    )


def resolve_target(config: StewardConfig, alias: ModelConfig, text: str) -> ModelRef:
    """The upstream model a deployment of `alias` should call: `provider/model`, another
    alias (its upstream model), or a bare model name on the alias's own provider."""
    text = text.strip()
    other = config.model(text)
    if other is not None:
        if other.kind != alias.kind:
            raise Invalid(
                f"'{text}' is a {other.kind} model and '{alias.name}' a {alias.kind} model",
                code="model_kind_mismatch",
            )
        return alias_upstream(other)
    provider, sep, model = text.partition("/")
    if sep and model and provider in config.providers:
        return ModelRef("upstream", text)
    if not text or "/" in text and provider not in config.providers:
        providers = ", ".join(sorted(config.providers)) or "none"
        raise Invalid(
            f"'{text}' names no configured provider ({providers}); give provider/model, an alias, "
            f"or a model of '{alias.provider}'",
            code="unknown_model",
        )
    return ModelRef("upstream", upstream_ref(alias.provider, text))


def configured_refs(config: StewardConfig) -> list[ModelRef]:
    """Every model the configuration uses: each alias and each upstream model behind one."""
    out: list[ModelRef] = []
    seen: set[ModelRef] = set()
    for m in config.models:
        for ref in (ModelRef("alias", m.name), alias_upstream(m)):
            if ref not in seen:
                seen.add(ref)
                out.append(ref)
    return out


__all__ = ["ModelRef", "alias_upstream", "configured_refs", "resolve", "resolve_target"]
