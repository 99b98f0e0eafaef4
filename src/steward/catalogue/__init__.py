"""The model catalogue: which models may be routed to (states, owners, data classes), and how an
alias is deployed (canary splits, gated promotions, rollback). See docs/catalogue.md."""

from steward.catalogue.settings import CatalogueSettings, PromotionSettings
from steward.catalogue.spec import STATES, CatalogueView, Entry, Split

__all__ = ["STATES", "CatalogueSettings", "CatalogueView", "Entry", "PromotionSettings", "Split"]
