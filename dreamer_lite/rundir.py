"""A training run's folder: what lands in it, and how each file is written so a kill is harmless.

    logdir/
        config.json          the run's Config; a rerun must match it (``RunDir.check_config``)
        metrics.jsonl        one JSON record per line (``RunDir.log``, ``load_history``)
        random_return.json   the random policy's mean return, measured once (``random_return``)
        checkpoint.pt        written by ``dreamer_lite.checkpoint`` with ``atomic_write``
        episodes/            the replay buffer, one ``.npz`` per episode, ``atomic_write`` too

Every file that is replaced as a whole goes through ``atomic_write``: the new content is written
to a hidden temporary file in the same folder, flushed to disk, and renamed over the old file.
A process killed at any moment (even SIGKILL) leaves the old file or the new one, never half of
one; at worst a stray temporary file, which ``remove_stray_temp_files`` clears on the next start.
Used by ``dreamer_lite.train`` (notebook 05, section 7), ``checkpoint`` and ``replay``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from dreamer_lite.config import Config, ConfigError
from dreamer_lite.rollout import random_policy_return

# Fields that may differ when a run is resumed: they change how it runs, not what it learns.
RESUMABLE_FIELDS = frozenset(
    {
        "total_steps",
        "eval_every",
        "eval_episodes",
        "checkpoint_every",
        "device",
        "torch_threads",
        "compile",
    }
)


class RunDirError(ValueError):
    """A run folder that cannot be used as it is; the message names the file and the way out."""


TEMP_PATTERN = ".*.tmp"  # the names ``atomic_write`` gives its temporary files


def fsync_directory(directory: str | Path) -> None:
    """Make a rename inside ``directory`` durable (POSIX only; a no-op elsewhere, e.g. Windows,
    where a folder cannot be opened for fsync)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write_fn: Callable[[IO[bytes]], Any]) -> Path:
    """Replace ``path`` with what ``write_fn(file)`` writes to a binary file, atomically.

    ``write_fn`` writes into a temporary file ``.{name}.XXXX.tmp`` in the same folder (a rename
    is only atomic within one file system); then flush + fsync, ``os.replace`` over ``path``, and
    fsync of the folder so the rename itself survives a power cut. If ``write_fn`` raises, the
    temporary file is removed and ``path`` keeps its old content. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            write_fn(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)  # readers see the old file or the whole new one
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write`` of a UTF-8 text."""
    return atomic_write(path, lambda file: file.write(text.encode("utf-8")))


def remove_stray_temp_files(directory: str | Path) -> int:
    """Delete the temporary files of writers that were killed mid-write; return how many."""
    strays = list(Path(directory).glob(TEMP_PATTERN))
    for stray in strays:
        stray.unlink(missing_ok=True)
    return len(strays)


def load_history(logdir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read ``metrics.jsonl`` into ``{"episode": [...], "train": [...], "eval": [...]}``."""
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    path = Path(logdir) / "metrics.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                history[record["kind"]].append(record)
    return dict(history)


class RunDir:
    """The bookkeeping files of one run folder (no agent, no environment needed).

    Args:
        path: the run's folder; created if missing. Stray temporary files are removed.
    """

    def __init__(self, path: str | Path) -> None:
        """Open (or create) the folder and clear what killed writers left behind."""
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"--logdir {self.path} is a file, not a folder: name a new folder")
        self.path.mkdir(parents=True, exist_ok=True)
        remove_stray_temp_files(self.path)

    @property
    def checkpoint_path(self) -> Path:
        """Where the run's checkpoint lives (``checkpoint.pt``)."""
        return self.path / "checkpoint.pt"

    @property
    def episodes_path(self) -> Path:
        """The replay buffer's folder (``episodes/``)."""
        return self.path / "episodes"

    @property
    def metrics_path(self) -> Path:
        """The metrics log (``metrics.jsonl``)."""
        return self.path / "metrics.jsonl"

    def check_config(self, cfg: Config) -> None:
        """Refuse a config that differs from the saved ``config.json`` (other than in
        ``RESUMABLE_FIELDS``) with a ValueError naming the fields; then save ``cfg``."""
        path = self.path / "config.json"
        if path.exists():
            try:
                saved = Config.from_dict(json.loads(path.read_text()))
            except (json.JSONDecodeError, UnicodeDecodeError, ConfigError, TypeError) as error:
                raise RunDirError(
                    f"{path} is not a readable config of this version ({error}). Use a new "
                    "--logdir, or restore the file written by the run."
                ) from error
            diff = {k: v for k, v in saved.diff(cfg).items() if k not in RESUMABLE_FIELDS}
            if diff:
                lines = ", ".join(f"{k}: saved {a!r} vs now {b!r}" for k, (a, b) in diff.items())
                raise RunDirError(
                    f"{self.path} holds a run with a different config ({lines}). Use a new "
                    "--logdir, or the same settings to resume it."
                )
        atomic_write_text(path, cfg.to_json())

    def log(self, kind: str, env_steps: int, **values: Any) -> dict[str, Any]:
        """Append one record ``{"kind", "env_steps", **values, "wall_time"}`` to the metrics
        log and return it. ``wall_time`` (seconds since the epoch) dates every record: seconds
        per env step and "minutes to reach a return" come from it, across resumes too."""
        record = {
            "kind": kind,
            "env_steps": env_steps,
            **values,
            "wall_time": round(time.time(), 1),
        }
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        return record

    def truncate_metrics(self, env_steps: int) -> None:
        """Drop the records logged after ``env_steps`` (a resumed run produces them again)."""
        if self.metrics_path.exists():
            keep = [
                line
                for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line)["env_steps"] <= env_steps
            ]
            atomic_write_text(self.metrics_path, "".join(line + "\n" for line in keep))

    def history(self) -> dict[str, list[dict[str, Any]]]:
        """The metrics log by kind (see ``load_history``)."""
        return load_history(self.path)

    def random_return(self, env: Any, episodes: int = 3, seed: int = 0) -> float:
        """Mean return of uniform random actions on ``env`` over ``episodes`` episodes,
        measured once and cached in ``random_return.json`` (later calls read the file)."""
        path = self.path / "random_return.json"
        if path.exists():
            return float(json.loads(path.read_text())["return"])
        value = random_policy_return(env, episodes=episodes, seed=seed)
        atomic_write_text(path, json.dumps({"return": value, "episodes": episodes}))
        return value
