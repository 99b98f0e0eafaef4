"""Human approvals bound to exact actions. The gateway's service is
`steward.agents.approvals.service.Approvals` (`gw.approvals`); the binding hash is
`steward.agents.approvals.binding.approval_binding`. (This package's top level stays light: the
configuration models import its settings.)"""

from steward.agents.approvals.records import STATUSES, Approval, ApproverRefused, NotPending
from steward.agents.approvals.settings import ApprovalSettings

__all__ = ["STATUSES", "Approval", "ApprovalSettings", "ApproverRefused", "NotPending"]
