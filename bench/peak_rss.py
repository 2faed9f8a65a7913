"""The peak RSS of this process, shared by the scale bench's and the scale tests' workers."""

from __future__ import annotations

import resource


def peak_rss() -> int:
    """Bytes. VmHWM is this process's own peak; ru_maxrss also counts the parent's RSS at fork
    time (Linux keeps it across exec), which a parent that built a model in memory inflates."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
