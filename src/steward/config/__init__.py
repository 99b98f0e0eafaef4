"""Configuration: the YAML file (validated by pydantic) and environment settings."""

from steward.config.loader import ConfigError, load_config, parse_config
from steward.config.models import ModelConfig, PriceConfig, ProviderConfig, StewardConfig
from steward.config.settings import Runtime, Settings

__all__ = [
    "ConfigError",
    "ModelConfig",
    "PriceConfig",
    "ProviderConfig",
    "Runtime",
    "Settings",
    "StewardConfig",
    "load_config",
    "parse_config",
]
