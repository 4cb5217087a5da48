"""Checkpoints written atomically, with every random state, so a killed run resumes exactly.

A checkpoint is one file, ``checkpoint.pt``, written with ``rundir.atomic_write``: to a
temporary file in the same folder, flushed to disk, then renamed over the old one. A process
killed at any moment leaves either the old checkpoint or the new one, never half of one. Used by
``dreamer_lite.train``; notebook 05, section 7.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamer_lite.rundir import atomic_write


def random_states() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's global generators (CUDA too when present)."""
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict[str, Any]) -> None:
    """Restore the generators' states saved by ``random_states``."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically (``rundir.atomic_write``)."""
    return atomic_write(path, lambda file: torch.save(state, file))


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load what ``save_checkpoint`` wrote. Our own files hold numpy and Python RNG states, so
    they are loaded with ``weights_only=False``: only load checkpoints you wrote yourself."""
    return torch.load(Path(path), map_location=map_location, weights_only=False)
