"""Admin API route for the inventory of AI in use. It reads the configuration's model catalogue,
so the gateway mounts it (`create_admin_app(..., extra_routers=[inventory_router(...)])`)."""

from __future__ import annotations

from fastapi import APIRouter

from steward.inventory import Inventory, InventoryService


def inventory_router(inventory: InventoryService) -> APIRouter:
    """`GET /inventory` over `inventory`; read-only, so auditors may call it too."""
    router = APIRouter(tags=["inventory"])

    @router.get("/inventory")
    def get_inventory(flags_only: bool = False) -> Inventory:
        """Apps, agents and models with owner, purpose, data classes, risk tier and use, and
        the flags that need attention (no owner, not in the catalogue, unmanaged, prohibited
        with active keys). `flags_only` keeps only the flagged entries."""
        return inventory.build(flags_only=flags_only)

    return router


__all__ = ["inventory_router"]
