"""The inventory of AI in use: apps, agents and models, their owners, purposes, data classes and
risk tiers, and the flags that need attention."""

from steward.inventory.records import (
    SEVERITIES,
    AgentEntry,
    AppEntry,
    Flag,
    Inventory,
    ModelEntry,
    ModelUsage,
)
from steward.inventory.service import InventoryService

__all__ = [
    "SEVERITIES",
    "AgentEntry",
    "AppEntry",
    "Flag",
    "Inventory",
    "InventoryService",
    "ModelEntry",
    "ModelUsage",
]
