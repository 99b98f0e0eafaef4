"""Steward: an AI control plane. One governed door between people, apps, agents and AI models."""

__version__ = "0.1.0"
