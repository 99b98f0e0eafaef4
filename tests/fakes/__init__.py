"""Fakes of the outside world, served for real on loopback.

Names are imported lazily so that `python -m tests.fakes.upstream` runs the module only once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.upstream import FakeUpstream, RecordedRequest, UpstreamApp

__all__ = ["FakeUpstream", "RecordedRequest", "UpstreamApp"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tests.fakes import upstream

        return getattr(upstream, name)
    raise AttributeError(f"module 'tests.fakes' has no attribute {name!r}")
