"""The data path of training: replay batches prepared in a background thread (notebook 05).

While ``Dreamer.update`` runs (on a GPU, mostly the host launching kernels and waiting), a
thread stacks the next batch from the replay's episodes, so the loop never waits for the
sampler, except for the first batch of each training phase. On a CUDA device the batches are
stacked into page-locked (pinned) host memory, and ``update``'s ``.to(device,
non_blocking=True)`` copies them asynchronously on the compute stream.

Shape legend: ``T`` window length, ``B`` batch (as in ``dreamer_lite.replay``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from dreamer_lite.replay import ReplayBuffer

if TYPE_CHECKING:  # annotations only (typing.Self is Python 3.11+)
    from typing import Self


class Prefetcher:
    """``count`` replay batches, sampled in a background thread ahead of the loop that uses them.

        with Prefetcher(replay, batch_size, seq_len, count=100) as batches:
            for batch in batches:  # while update i runs, batch i + 1 is being stacked
                agent.update(batch)

    The thread calls ``replay.sample`` exactly as the loop would, in the same order, so the
    batches are the ones direct sampling gives with the same seed. It never samples more than
    ``count`` batches, and ``close`` (the end of the ``with``) rewinds the sampler's generator to
    the first batch not handed out, so the replay state saved in a checkpoint is the same as
    without prefetching and a resumed run continues exactly. Stacking numpy windows (and the
    pinned host copy) happens off the critical path; only the first batch is waited for. The
    replay must not change while batches are being prefetched (the training loop adds episodes
    only between ``learn`` calls). Exceptions of the sampler are raised in the consuming loop.
    ``waited_s`` is the time the loop spent waiting for batches: what is left of the sampler on
    the critical path.

    Args:
        replay, batch_size, length: what ``replay.sample(batch_size, length)`` takes.
        count: how many batches to yield.
        pin_memory: ``sample``'s ``pin_memory`` (when the device is CUDA).
        depth: how many finished batches may wait in the queue (1: double buffering).
    """

    def __init__(
        self,
        replay: ReplayBuffer,
        batch_size: int,
        length: int,
        count: int,
        *,
        pin_memory: bool = False,
        depth: int = 1,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1; got {depth}")
        self._replay, self._count = replay, count
        self._sample = lambda: replay.sample(batch_size, length, pin_memory=pin_memory)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._states: list[dict] = []  # the sampler's state before batch i, for rewinding
        self._handed_out = 0
        self.waited_s = 0.0  # seconds the consuming loop spent waiting for a batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="replay-prefetch", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        """The thread: sample the batches in order and queue them (or the exception)."""
        try:
            for _ in range(self._count):
                self._states.append(self._replay.state_dict())
                if not self._put(self._sample()):
                    return
        except Exception as error:  # noqa: BLE001 -- handed to the consumer, raised there
            self._put(error)

    def _put(self, item) -> bool:
        """Queue ``item``, waiting while the queue is full; False if told to stop meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        while self._handed_out < self._count:
            start = time.perf_counter()
            item = self._queue.get()
            self.waited_s += time.perf_counter() - start
            if isinstance(item, Exception):
                raise item
            self._handed_out += 1
            yield item

    def close(self) -> None:
        """Stop the thread and rewind the sampler to the first batch not handed out."""
        self._stop.set()
        self._thread.join()
        if len(self._states) > self._handed_out:
            self._replay.load_state_dict(self._states[self._handed_out])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
