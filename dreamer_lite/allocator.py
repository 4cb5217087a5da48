"""Keep freed memory inside the process: glibc ``malloc`` settings for training on a CPU.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves each request above
128 kB-32 MB with a fresh ``mmap`` and hands it back to the kernel on ``free``, so every large
activation of every update is new memory to the kernel, and every 4 kB page of it is a page fault
on first touch (about 55,000 per CPU-preset update here, 0.1 s of system time). Two settings
stop that: no ``mmap`` for allocations (``M_MMAP_MAX = 0``: they come from the heap) and no
shrinking of the heap (``M_TRIM_THRESHOLD`` at its maximum), so the second update reuses the
first one's memory. The numbers computed are the same; only where they live changes. The price
is that the process keeps its peak memory (docs/RESULTS.md, "Speed on the CPU", has both
figures).
"""

from __future__ import annotations

import ctypes
import sys

# mallopt's parameter numbers, from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_LARGEST_INT = 2**31 - 1


def keep_freed_memory() -> bool:
    """Tell glibc's ``malloc`` to serve every allocation from the heap and never shrink it.

    Process-wide and lasting; call it once at the start of a training run or benchmark
    (``train`` and ``bench`` do). Returns True when the settings took effect, False where there
    is no glibc ``mallopt`` (macOS, Windows, musl): nothing changes there.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter is linked against
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(M_TRIM_THRESHOLD, _LARGEST_INT) == 1 and mallopt(M_MMAP_MAX, 0) == 1
