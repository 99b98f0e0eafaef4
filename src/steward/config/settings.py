"""Process settings from the environment (prefix STEWARD_), resolved once at start."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from steward.config.loader import load_config
from steward.config.models import StewardConfig


class Settings(BaseSettings):
    """Environment settings. The YAML file holds the rest."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_", extra="ignore")

    config: str | None = None
    data_dir: str = ".steward"
    admin_key: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    log_level: str = "warning"


class Runtime:
    """The resolved configuration plus the paths derived from it; passed through the app factory."""

    def __init__(self, config: StewardConfig, settings: Settings, config_path: str | None) -> None:
        self.config = config
        self.settings = settings
        self.config_path = config_path
        self.data_dir = Path(config.data_dir or settings.data_dir).resolve()
        self.database_url = (
            settings.database_url
            or config.database_url
            or f"sqlite:///{self.data_dir / 'steward.db'}"
        )
        self.redis_url = settings.redis_url or config.redis_url
        self.spool_dir = (
            Path(config.spool.dir).resolve() if config.spool.dir else self.data_dir / "spool"
        )

    @classmethod
    def load(cls, config_path: str | None = None, settings: Settings | None = None) -> Runtime:
        settings = settings or Settings()
        path = config_path or settings.config
        return cls(load_config(path), settings, path)
