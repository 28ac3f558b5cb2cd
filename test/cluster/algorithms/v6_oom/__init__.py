"""An algorithm that allocates memory until the container's memory limit kills it."""

import time

from vantage6.algorithm.tools.util import info

MIB = 1024 * 1024


def oom(step_mib: int = 16, stop_after_mib: int | None = None, step_seconds: float = 0.0) -> dict:
    """Holds ``step_mib`` MiB more each step, every page written so that it is resident.

    Without ``stop_after_mib`` it never returns: the kernel's OOM killer ends it at the limit.
    With it, it stops there and reports what it held (for a runtime without a memory limit).
    ``step_seconds`` between steps makes it a run that stays active (1 MiB a second: a run to kill).
    """
    held = []
    while stop_after_mib is None or len(held) * step_mib < stop_after_mib:
        held.append(b"\xa5" * (step_mib * MIB))
        info(f"holding {len(held) * step_mib} MiB")
        time.sleep(step_seconds)
    return {"allocated_mib": len(held) * step_mib}
