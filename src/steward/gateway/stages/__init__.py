"""Pipeline stages, one concept each."""

from steward.gateway.stages.account import Account
from steward.gateway.stages.authenticate import Authenticate
from steward.gateway.stages.authorize import Authorize
from steward.gateway.stages.base import Stage
from steward.gateway.stages.parse import Parse
from steward.gateway.stages.record import Record
from steward.gateway.stages.route import Route

__all__ = ["Account", "Authenticate", "Authorize", "Parse", "Record", "Route", "Stage"]
