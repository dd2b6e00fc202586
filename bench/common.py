"""Helpers the benchmark scripts share."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_gb() -> float:
    """This process's own peak resident memory, in GB.

    Read from /proc (VmHWM) where it exists: `ru_maxrss` of a child started by fork+exec
    starts from the parent's resident size at the fork, so a benchmark parent that built a
    large dump would inflate every child's figure.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
