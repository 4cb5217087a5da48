"""Episode replay buffer: episodes on disk, a RAM cache, and uniform window sampling.

Explained in notebook 05 (training on DMC). The world model learns from short windows of
consecutive steps cut out of whole episodes; this module stores those episodes and samples
the windows.

Shape legend: L agent steps in an episode (L + 1 entries), T window length, B batch,
A action size.

Time alignment (the off-by-one that public ports get wrong). An episode of L agent steps is
a dict of arrays that all have L + 1 entries along the first axis::

    index t:     0          1          2                 L
    obs[t]:     o_0  --->  o_1  --->  o_2  ...  --->   o_L       o_0 comes from env.reset()
    action[t]:   0         a_0        a_1             a_{L-1}    action[t] = a_{t-1}, taken AT o_{t-1}
    reward[t]:   0         r_1        r_2               r_L      reward[t] = r_t, received INTO o_t

    agent step t >= 1: the agent sees o_{t-1}, sends a_{t-1}, the env returns (o_t, r_t)

So entry t holds the observation together with the action that produced it and the reward
for reaching it. A model that observes o_t with the previous action a_{t-1} predicts r_t from its
state at t. Entry 0 carries a zero action and a zero reward. Extra keys (e.g. ``discount``,
shape (L+1,)) follow the same rule and are stored and sampled like the others. The RSSM's
docstring (``dreamer_lite.rssm``) draws the same alignment with the latent states.

Storage. Every finished episode is one compressed ``{index:06d}-{L}.npz`` file in
``directory``, written atomically (``rundir.atomic_write``: temp file, fsync, ``os.replace``),
so a killed process never leaves a half-written episode under its final name. The files are what
survives a crash; the folder IS the buffer: reopening it loads every episode again and continues
the counter.

Memory. All stored episodes are also cached in RAM (images as uint8). One million 64x64x3
frames take about 12 GB, so ``capacity`` bounds the RAM as well as the disk: when more than
``capacity`` agent steps are stored, the oldest episodes are evicted, from memory and disk.
"""

from __future__ import annotations

import re
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from dreamer_lite.rundir import atomic_write, remove_stray_temp_files

REQUIRED_KEYS = ("obs", "action", "reward")
# What reading a damaged .npz can raise (zip layer, deflate layer, .npy header and payload).
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError)
_FILE_PATTERN = re.compile(r"^(\d+)-(\d+)\.npz$")  # {index:06d}-{length}.npz


def _episode_problem(episode: dict[str, np.ndarray]) -> str | None:
    """Return a message describing what is wrong with ``episode``, or None if it is valid."""
    missing = [key for key in REQUIRED_KEYS if key not in episode]
    if missing:
        return f"episode is missing key(s) {missing}; it has {sorted(episode)}"
    firsts = {
        key: np.shape(value)[0] if np.ndim(value) > 0 else None for key, value in episode.items()
    }
    if len(set(firsts.values())) != 1 or None in firsts.values():
        return f"all arrays must share the first (time) dimension L+1; got {firsts}"
    if firsts["obs"] < 2:
        return f"an episode needs at least 2 entries (reset + one step); got {firsts['obs']}"
    if np.ndim(episode["action"]) != 2:
        return f"action must have shape (L+1, A); got {np.shape(episode['action'])}"
    if np.ndim(episode["reward"]) != 1:
        return f"reward must have shape (L+1,); got {np.shape(episode['reward'])}"
    return None


def _stored_copy(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` as stored: floats become float32, other dtypes are kept."""
    array = np.asarray(array)
    return np.array(array, dtype=np.float32 if np.issubdtype(array.dtype, np.floating) else None)


class ReplayBuffer:
    """Whole episodes on disk and in RAM; samples time-major windows that never cross episodes.

    Args:
        directory: folder with one ``.npz`` file per episode (created if missing). Episodes
            already there are loaded, oldest first; unreadable files are skipped with a warning.
        capacity: most agent steps to keep (an episode with L+1 entries counts L). The oldest
            episodes are evicted beyond it, but never the newest one.
        seed: seed of the buffer's own ``numpy.random.Generator`` used by ``sample``.
    """

    def __init__(self, directory: str | Path, capacity: int = 1_000_000, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1 agent step; got {capacity}")
        self._directory = Path(directory)
        self._directory.mkdir(parents=True, exist_ok=True)
        self.capacity = int(capacity)
        self._rng = np.random.default_rng(seed)
        self._episodes: list[dict[str, np.ndarray]] = []  # oldest first
        self._indices: list[int] = []
        self._paths: list[Path] = []
        self._num_steps = 0
        self._next_index = 0
        self._load()

    # ------------------------------------------------------------------ loading and saving

    def _load(self) -> None:
        """Load the episodes in ``directory``, dropping stray temp files of killed writers."""
        remove_stray_temp_files(self._directory)
        found = []
        for path in self._directory.iterdir():
            match = _FILE_PATTERN.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
        found.sort()
        # Continue after EVERY named file, readable or not, so a corrupt file is never replaced.
        self._next_index = found[-1][0] + 1 if found else 0
        for index, path in found:
            episode = self._read(path)
            if episode is not None:
                self._append(index, path, episode)
        self._evict()  # a folder written with a larger capacity is trimmed to this one

    @staticmethod
    def _read(path: Path) -> dict[str, np.ndarray] | None:
        """Read one episode file; warn and return None if it is corrupt or inconsistent."""
        try:
            # Open the file ourselves: np.load leaks its handle when the zip is truncated.
            with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:
                episode = {key: _stored_copy(data[key]) for key in data.files}
        except _READ_ERRORS as error:  # truncated zip, bad CRC, bad header, ...: all mean "skip"
            warnings.warn(f"skipping unreadable replay file {path}: {error!r}", stacklevel=3)
            return None
        problem = _episode_problem(episode)
        if problem is None and len(episode["obs"]) - 1 != int(path.stem.split("-")[1]):
            problem = f"file name says {path.stem.split('-')[1]} steps, arrays have "
            problem += f"{len(episode['obs']) - 1}"
        if problem is not None:
            warnings.warn(f"skipping invalid replay file {path}: {problem}", stacklevel=3)
            return None
        return episode

    def _write(self, path: Path, episode: dict[str, np.ndarray]) -> None:
        """Write ``episode`` to ``path`` atomically (``rundir.atomic_write``)."""
        # Pass an open file: given a name without ".npz", savez would append ".npz" to it.
        atomic_write(path, lambda file: np.savez_compressed(file, **episode))

    def _append(self, index: int, path: Path, episode: dict[str, np.ndarray]) -> None:
        self._episodes.append(episode)
        self._indices.append(index)
        self._paths.append(path)
        self._num_steps += len(episode["obs"]) - 1

    def _evict(self) -> None:
        """Drop the oldest episodes (memory and file) while over capacity; keep the newest."""
        while self._num_steps > self.capacity and len(self._episodes) > 1:
            episode = self._episodes.pop(0)
            self._indices.pop(0)
            self._paths.pop(0).unlink(missing_ok=True)
            self._num_steps -= len(episode["obs"]) - 1

    def add_episode(self, episode: dict[str, np.ndarray]) -> Path:
        """Store a finished episode in RAM and as a new file; return the file's path.

        Args:
            episode: ``obs`` (L+1, *obs_shape), ``action`` (L+1, A), ``reward`` (L+1,) and any
                further arrays with first dimension L+1, aligned as in the module docstring.
                Floating arrays are stored as float32; the arrays are copied.
        """
        problem = _episode_problem(episode)
        if problem is not None:
            raise ValueError(f"invalid episode: {problem}")
        if self._episodes and set(episode) != set(self._episodes[-1]):
            raise ValueError(
                f"episode keys {sorted(episode)} differ from the keys of the "
                f"stored episodes {sorted(self._episodes[-1])}"
            )
        # Copy, so that later changes by the caller do not leak into the buffer.
        episode = {key: _stored_copy(value) for key, value in episode.items()}
        length = len(episode["obs"]) - 1
        index = self._next_index
        path = self._directory / f"{index:06d}-{length}.npz"
        self._write(path, episode)  # first the file: if writing fails, nothing has changed
        self._next_index += 1
        self._append(index, path, episode)
        self._evict()
        return path

    # ------------------------------------------------------------------ sampling

    def sample(
        self,
        batch_size: int,
        length: int,
        device: torch.device | str | None = None,
        *,
        pin_memory: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Sample ``batch_size`` windows of ``length`` consecutive entries, time-major.

        Every valid window in the buffer is equally likely, so an episode is picked with
        probability proportional to its number of windows, L+1 - length + 1. Windows never
        cross an episode boundary.

        ``pin_memory`` (CUDA machines only): stack the windows straight into page-locked host
        memory, from which ``.to("cuda", non_blocking=True)`` copies asynchronously (from
        ordinary memory the copy would first be staged, and the host would wait for it).

        Returns:
            A dict with the episodes' keys: ``obs`` (T, B, *obs_shape) (uint8 stays uint8),
            ``action`` (T, B, A), ``reward`` (T, B), ... with T = ``length``. Floating arrays
            are float32.
        """
        if batch_size < 1 or length < 1:
            raise ValueError(f"batch_size and length must be >= 1; got {batch_size}, {length}")
        entries = np.array([len(episode["obs"]) for episode in self._episodes], dtype=np.int64)
        windows = np.maximum(entries - length + 1, 0)  # valid start positions per episode
        total = int(windows.sum())
        if total == 0:
            longest = int(entries.max()) if len(entries) else 0
            raise ValueError(
                f"need an episode with at least {length} entries; have {self.num_episodes} "
                f"episode(s), the longest with {longest} entries. Collect more data or sample "
                f"shorter windows."
            )
        # Draw a global window number, then find its episode and start offset.
        flat = self._rng.integers(0, total, size=batch_size)  # (B,)
        ends = np.cumsum(windows)
        which = np.searchsorted(ends, flat, side="right")  # (B,)
        starts = flat - (ends[which] - windows[which])  # (B,)
        batch = {}
        for key in self._episodes[which[0]]:
            episodes = [self._episodes[e][key] for e in which]
            chunks = [episode[s : s + length] for episode, s in zip(episodes, starts, strict=True)]
            if pin_memory:
                first = chunks[0]
                dtype = torch.from_numpy(first[:0]).dtype
                stacked = torch.empty((length, batch_size, *first.shape[1:]), dtype=dtype)
                stacked = stacked.pin_memory()
                np.stack(chunks, axis=1, out=stacked.numpy())  # (T, B, ...), no extra copy
                batch[key] = stacked.to(device or "cpu", non_blocking=True)
            else:
                batch[key] = torch.as_tensor(np.stack(chunks, axis=1), device=device)  # (T, B, ...)
        return batch

    def state_dict(self) -> dict:
        """The sampler's random-generator state, for checkpoints."""
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Restore the random-generator state saved by ``state_dict``."""
        self._rng.bit_generator.state = state["rng"]

    # ------------------------------------------------------------------ inspection

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    @property
    def num_steps(self) -> int:
        """Agent steps stored (an episode with L+1 entries counts L)."""
        return self._num_steps

    @property
    def episodes(self) -> list[dict[str, np.ndarray]]:
        """The cached episodes, oldest first. Read them, do not modify them."""
        return list(self._episodes)

    @property
    def episode_indices(self) -> list[int]:
        return list(self._indices)

    @property
    def last_index(self) -> int:
        """Index of the newest stored episode, -1 if there is none."""
        return self._indices[-1] if self._indices else -1

    def __len__(self) -> int:
        return self._num_steps

    def __repr__(self) -> str:
        return (
            f"ReplayBuffer(directory='{self._directory}', episodes={self.num_episodes}, "
            f"steps={self.num_steps}, capacity={self.capacity})"
        )
