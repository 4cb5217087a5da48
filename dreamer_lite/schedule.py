"""When to train: the paper's schedule of updates between environment steps (notebook 05).

Dreamer alternates collecting and learning: ``train_steps`` gradient updates every
``train_every`` env steps (paper: 100 updates every 1000 env steps, i.e. one update per 10 env
steps), the first phase before any policy step. The ratio of updates to collected data (the
*replay ratio*) is the main knob that trades wall-clock for data efficiency.
"""

from __future__ import annotations


def updates_due(
    env_steps: int, next_train: int, train_every: int, train_steps: int
) -> tuple[int, int]:
    """How many updates to run now, and the env step at which the next phase is due.

    A phase is due once ``env_steps`` has reached ``next_train``; the next one is then
    ``train_every`` env steps later, counted from now (so a late phase does not cause a burst).
    Returns ``(updates, next_train)``: ``(0, next_train)`` when nothing is due.
    """
    if env_steps < next_train:
        return 0, next_train
    return train_steps, env_steps + train_every


def replay_ratio(
    train_every: int, train_steps: int, batch_size: int, seq_len: int, action_repeat: int
) -> float:
    """Replayed steps per collected agent step: updates x batch x length per agent step."""
    agent_steps = train_every / action_repeat
    return train_steps * batch_size * seq_len / agent_steps
