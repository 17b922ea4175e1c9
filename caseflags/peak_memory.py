"""The peak resident memory of this process while a block of work runs (run.json, per stage).

The process's own high-water mark (`ru_maxrss`) is exact but only grows: when a block raises it,
the new mark is that block's peak. A block that stays under an earlier mark is sampled instead
(every `interval` seconds, from /proc on Linux), so each stage reports its own peak.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from typing import Self

MIB = 2**20


def high_water_bytes() -> int:
    """The process's peak resident memory so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def resident_bytes() -> int:
    """The process's resident memory now (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class PeakRss:
    """`with PeakRss() as peak: ...` then `peak.mib`: the block's peak resident memory."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.sampled = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._mark = high_water_bytes()
        self.sampled = resident_bytes()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.sampled = max(self.sampled, resident_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sampled = max(self.sampled, resident_bytes())
        mark = high_water_bytes()
        self.bytes = mark if mark > self._mark else self.sampled

    @property
    def mib(self) -> float:
        return round(self.bytes / MIB, 1)
