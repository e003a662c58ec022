"""How much memory a step may take, and refusing one that needs more, before it allocates.

Used by the numerics (an ensemble's weights) and by the output (WebP keeps every frame); torch
is imported only to ask a CUDA device.
"""

from __future__ import annotations

import os

from ntkviz.errors import ConfigError


def address_space_left() -> int | None:
    """What ``ulimit -v`` (RLIMIT_AS) still lets this process map, or None where it sets none."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft < 0:
            return None
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return None
    return max(soft - mapped, 0)


#: Where Linux says how much memory can be had without swapping (MemAvailable: free memory plus
#: the page cache it can drop). Free memory alone (``SC_AVPHYS_PAGES``) leaves the cache out: on a
#: machine whose files fill the cache it is a fraction of what can be allocated.
MEMINFO = "/proc/meminfo"


def available_memory() -> int:
    """Bytes that can be allocated without swapping: MemAvailable where the kernel says it,
    else the free physical pages (8 GiB where neither is known)."""
    try:
        with open(MEMINFO) as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # pragma: no cover - non-POSIX
        return 8 << 30


def memory_limit(device: str = "cpu") -> int:
    """Half the available memory of ``device`` (:func:`available_memory` on the CPU): what one
    step may take (on the CPU, also half of what ``ulimit -v`` leaves, so that a limit ends as
    this refusal, not a failed allocation). Apple's GPU (``mps``) shares the machine's memory:
    the CPU's answer is its."""
    if device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free // 2
    available = available_memory()
    left = address_space_left()
    return (available if left is None else min(available, left)) // 2


def check_memory(need: int, what: str, hint: str, device: str = "cpu") -> None:
    """Refuse, before allocating, ``need`` bytes beyond half the available memory of ``device``;
    the message names ``what`` needs it and ends with ``hint``."""
    limit = memory_limit(device)
    if need > limit:
        raise ConfigError(
            f"{what} need about {need / 2**30:.1f} GiB on {device}; the limit is "
            f"{limit / 2**30:.1f} GiB (half the available memory): {hint}"
        )
