"""Overlap resolution: of findings that overlap, the higher score wins, then the longer."""

from __future__ import annotations

from bisect import bisect_left

from .findings import Finding


def _rank(f: Finding) -> tuple[float, int, int]:
    return (-f.score, f.start - f.end, f.start)


def resolve(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping findings sorted by start (greedy by rank; O(n log n) lookups)."""
    if len(findings) < 2:
        return findings
    starts: list[int] = []
    kept: list[Finding] = []
    for f in sorted(findings, key=_rank):
        i = bisect_left(starts, f.start)
        if i > 0 and kept[i - 1].end > f.start:
            continue
        if i < len(kept) and kept[i].start < f.end:
            continue
        starts.insert(i, f.start)
        kept.insert(i, f)
    return kept
