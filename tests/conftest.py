"""Shared test setup: the headless GL backend before anything imports mujoco, one torch thread.

One thread: on a 2-core machine that also renders, torch's thread pool fighting other processes
made the suite 5x slower; the tests use small shapes that gain nothing from more threads.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from dreamer_lite.envs import setup_rendering

setup_rendering()
torch.set_num_threads(1)

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture
def load_script():
    """``load_script("name")`` imports ``scripts/name.py`` (the folder is not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
