"""Timing helpers shared by the benchmarks: compile once, then the median of repeats."""
from __future__ import annotations

import statistics
import time


def median_seconds(fn, *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` (which must block until its result is ready)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
