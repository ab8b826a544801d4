"""Deadlines for tests that wait on other processes (workers, daphne, nginx, Chromium),
scaled to how fast this machine runs right now instead of guessed.

Every wait states a base timeout: what it needs, with margin, on a quiet 2-core machine.
At session start (tests/conftest.py) a fixed CPU workload is timed; the factor is its wall
time over the time the same workload takes on a quiet machine of this kind
(REFERENCE_SECONDS), never under 1 and at most MAX_FACTOR. A machine at a load of 12 on
2 cores gives each process about a sixth of a core: the workload takes ~6 times as long, and
so may every wait. Load changes during a session, so a deadline that runs out measures
again and extends itself if the machine has become slower since (up to MAX_FACTOR × base).

Deadlines only bound waits for something that must happen; no test asserts a duration.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

# Wall time of _workload() on an idle machine of this project's kind: its CPU time, which
# `python -m tests.support.deadlines` prints (stable at 32-33 ms whatever the load).
REFERENCE_SECONDS = 0.032
MAX_FACTOR = 30.0
_RUNS = 5

_factor: float | None = None


def _workload() -> None:
    total = 0
    for number in range(600_000):
        total += number * number % 7
    if total < 0:  # never true: keeps the loop from being optimised into nothing
        raise AssertionError


def measure() -> float:
    """Times the workload (median of a few runs) and returns the slowdown factor."""
    durations = []
    for _ in range(_RUNS):
        start = time.perf_counter()
        _workload()
        durations.append(time.perf_counter() - start)
    return min(MAX_FACTOR, max(1.0, statistics.median(durations) / REFERENCE_SECONDS))


def calibrate() -> float:
    """Measures the factor anew (session start) and keeps it for scaled()."""
    global _factor
    _factor = measure()
    return _factor


def factor() -> float:
    return _factor if _factor is not None else calibrate()


def scaled(base_seconds: float) -> float:
    """The base timeout (seconds on a quiet machine) scaled to this machine now."""
    return base_seconds * factor()


def scaled_ms(base_seconds: float) -> float:
    """scaled() in milliseconds, for Playwright's timeouts."""
    return scaled(base_seconds) * 1000


class Deadline:
    """A base timeout scaled by the factor; when it runs out the factor is measured again
    and the deadline moves if the machine has become slower in the meantime."""

    def __init__(self, base_seconds: float):
        self.base = base_seconds
        self.start = time.monotonic()
        self.end = self.start + scaled(base_seconds)

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        if time.monotonic() < self.end:
            return False
        global _factor
        now = measure()
        if now > factor():
            _factor = now
            self.end = max(self.end, self.start + self.base * now)
        return time.monotonic() >= self.end

    def __str__(self) -> str:
        return f"{time.monotonic() - self.start:.1f}s (base {self.base:g}s × factor {factor():.1f})"


def wait_until(predicate: Callable[[], object], *, base: float, what: str, interval: float = 0.2) -> None:
    """Polls predicate until it is true; AssertionError naming `what` once the deadline passes."""
    deadline = Deadline(base)
    while not predicate():
        if deadline.expired():
            raise AssertionError(f"timed out after {deadline} waiting for {what}")
        time.sleep(interval)


if __name__ == "__main__":
    walls, cpus = [], []
    for _ in range(_RUNS):
        start, cpu = time.perf_counter(), time.process_time()
        _workload()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    print(f"wall median {statistics.median(walls) * 1000:.1f} ms, CPU median {statistics.median(cpus) * 1000:.1f} ms")
    print(f"factor {measure():.2f} (reference {REFERENCE_SECONDS * 1000:.1f} ms)")
