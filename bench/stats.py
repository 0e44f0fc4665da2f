"""Percentiles and latency summaries, in plain Python so tests need nothing else."""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between ranks.

    Same definition as ``numpy.percentile``'s default ("linear"), so figures agree
    with anyone re-checking them in numpy.

    Args:
        values: the sample, in any order; must not be empty.
        q: percentile in [0, 100].

    Raises:
        ValueError: on an empty sample or q outside [0, 100].
    """
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values_ms: Sequence[float], digits: int = 2) -> Dict[str, float]:
    """Count, mean, p50, p95, p99 and max of latencies in milliseconds."""
    if not values_ms:
        return {"count": 0}
    return {
        "count": len(values_ms),
        "mean": round(sum(values_ms) / len(values_ms), digits),
        "p50": round(percentile(values_ms, 50), digits),
        "p95": round(percentile(values_ms, 95), digits),
        "p99": round(percentile(values_ms, 99), digits),
        "max": round(max(values_ms), digits),
    }


def ratio(numerator: Optional[float], denominator: Optional[float], digits: int = 2) -> Optional[float]:
    """numerator / denominator rounded, or None when either is missing or zero."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, digits)
