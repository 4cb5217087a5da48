"""Shared test setup: the headless GL backend before anything imports mujoco, one torch thread.

One thread: on a 2-core machine that also renders, torch's thread pool fighting other processes
made the suite 5x slower; the tests use small shapes that gain nothing from more threads.
"""

import torch

from dreamer_lite.envs import setup_rendering

setup_rendering()
torch.set_num_threads(1)
