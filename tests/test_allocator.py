"""Tests of dreamer_lite.allocator: freed memory stays in the process, so reusing it costs no
page faults. Each case runs in a fresh interpreter (the setting is process-wide and lasting)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

# Allocate, touch and free 64 MB ten times (tuned, glibc's heap settles after a few rounds),
# then count the page faults of four more rounds.
_PROBE = """
import resource, sys
import torch
from dreamer_lite.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
for _ in range(10):
    torch.ones(16 * 2**20)  # 64 MB, freed at once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    torch.ones(16 * 2**20)
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


def test_reallocating_64_mb_costs_no_page_faults_once_tuned():
    """glibc's default returns the 64 MB to the kernel and faults in its 16,384 pages (4 kB)
    again every round (at least a quarter of the 4 x 16,384 counted, to allow huge pages);
    tuned, the rounds reuse the same heap pages."""
    flag, default_faults = faults("default")
    assert flag == "None" and default_faults > 4 * 16384 // 4
    flag, tuned_faults = faults("tuned")
    assert flag == "True"
    assert tuned_faults < 200
