"""The embedded default: the built-in simulator behind a few clearly named models, so a fresh
machine runs Steward offline with no configuration at all."""

from __future__ import annotations

from typing import Any

from steward.config.models import StewardConfig

EMBEDDED_DEFAULT: dict[str, Any] = {
    "providers": {
        "sim": {"kind": "sim"},
        "sim-unreliable": {"kind": "sim", "sim": {"error_rate": 1.0, "error_status": 503}},
    },
    "models": [
        {
            "name": "sim-fast",
            "provider": "sim",
            "upstream_model": "sim-fast-1",
            "description": "Simulated small chat model (priced like a small commercial model).",
            "price": {
                "input_per_mtok": 0.15,
                "output_per_mtok": 0.60,
                "cache_read_per_mtok": 0.075,
            },
        },
        {
            "name": "sim-smart",
            "provider": "sim",
            "upstream_model": "sim-smart-1",
            "description": "Simulated large chat model.",
            "price": {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "cache_read_per_mtok": 0.30},
        },
        {
            "name": "sim-flaky",
            "provider": "sim-unreliable",
            "upstream_model": "sim-flaky-1",
            "fallbacks": ["sim-fast"],
            "description": "Simulated model that always fails, to show fallbacks.",
            "price": {"input_per_mtok": 0.5, "output_per_mtok": 1.5},
        },
        {
            "name": "sim-embed",
            "provider": "sim",
            "kind": "embedding",
            "upstream_model": "sim-embed-1",
            "description": "Simulated embedding model.",
            "price": {"input_per_mtok": 0.02, "output_per_mtok": 0.0},
        },
    ],
}


def embedded_default() -> StewardConfig:
    return StewardConfig.model_validate(EMBEDDED_DEFAULT)
