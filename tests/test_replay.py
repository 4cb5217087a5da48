"""Tests of dreamer_lite.replay: storage, crash safety, eviction, and window sampling."""

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dreamer_lite import replay
from dreamer_lite.prefetch import Prefetcher
from dreamer_lite.replay import ReplayBuffer


def make_episode(episode_id: int, steps: int, image: bool = True) -> dict[str, np.ndarray]:
    """A fake episode of ``steps`` agent steps whose entries encode (episode_id, t).

    obs[t] channel 0 = episode_id, channel 1 = t; action[t] = (episode_id, t);
    reward[t] = 1000 * episode_id + t; discount[t] = t. So every entry says where it came from.
    """
    t = np.arange(steps + 1)
    if image:
        assert steps < 256 and episode_id < 256, "uint8 images can only encode values < 256"
        obs = np.zeros((steps + 1, 3, 4, 4), dtype=np.uint8)
        obs[:, 0] = episode_id
        obs[:, 1] = t[:, None, None]
    else:
        obs = np.stack([np.full(steps + 1, episode_id), t], axis=1).astype(np.float32)
    return {
        "obs": obs,
        "action": np.stack([np.full(steps + 1, episode_id), t], axis=1).astype(np.float32),
        "reward": (1000.0 * episode_id + t).astype(np.float32),
        "discount": t.astype(np.float64),  # float64 on purpose: stored and sampled as float32
    }


def episode_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_sample_shapes_dtypes_alignment_and_no_boundary_crossing(tmp_path):
    buffer = ReplayBuffer(tmp_path, seed=1)
    for episode_id, steps in enumerate([3, 5, 10, 2, 30]):  # the 2-step episode is too short
        buffer.add_episode(make_episode(episode_id, steps))
    T, B = 4, 256
    batch = buffer.sample(B, T)

    assert set(batch) == {"obs", "action", "reward", "discount"}
    assert batch["obs"].shape == (T, B, 3, 4, 4) and batch["obs"].dtype == torch.uint8
    assert batch["action"].shape == (T, B, 2) and batch["action"].dtype == torch.float32
    assert batch["reward"].shape == (T, B) and batch["reward"].dtype == torch.float32
    assert batch["discount"].shape == (T, B) and batch["discount"].dtype == torch.float32

    obs_id = batch["obs"][:, :, 0, 0, 0].long()  # (T, B)
    obs_t = batch["obs"][:, :, 1, 0, 0].long()
    # One episode per window, and the same one in every key.
    assert (obs_id == obs_id[:1]).all()
    assert (batch["action"][..., 0].long() == obs_id).all()
    assert (batch["reward"].long() // 1000 == obs_id).all()
    # Consecutive time steps, and action/reward/discount at the same t as obs.
    assert (obs_t[1:] - obs_t[:-1] == 1).all()
    assert (batch["action"][..., 1].long() == obs_t).all()
    assert (batch["reward"].long() % 1000 == obs_t).all()
    assert (batch["discount"].long() == obs_t).all()
    # Windows end inside their episode; the 2-step episode (3 entries) never fits 4 entries.
    steps_of = torch.tensor([3, 5, 10, 2, 30])
    assert (obs_t[-1] <= steps_of[obs_id[0]]).all()
    assert not (obs_id == 3).any()
    assert set(obs_id[0].tolist()) == {0, 1, 2, 4}


def test_sample_vector_obs_and_device(tmp_path):
    buffer = ReplayBuffer(tmp_path)
    buffer.add_episode(make_episode(7, 6, image=False))
    batch = buffer.sample(3, 7, device="cpu")  # 7 entries: the whole episode
    assert batch["obs"].dtype == torch.float32 and batch["obs"].shape == (7, 3, 2)
    expected = torch.arange(7.0)[:, None].expand(7, 3)
    torch.testing.assert_close(batch["obs"][..., 1], expected)
    torch.testing.assert_close(batch["reward"], 7000.0 + expected)


def test_file_names_and_reopen_continue_counter(tmp_path):
    buffer = ReplayBuffer(tmp_path)
    assert buffer.last_index == -1 and len(buffer) == 0
    paths = [buffer.add_episode(make_episode(i, steps)) for i, steps in enumerate([4, 6, 9])]
    assert [p.name for p in paths] == ["000000-4.npz", "000001-6.npz", "000002-9.npz"]
    assert episode_files(tmp_path) == [p.name for p in paths]  # no temp files left behind
    assert buffer.num_episodes == 3 and buffer.num_steps == 19 == len(buffer)
    assert buffer.last_index == 2 and buffer.episode_indices == [0, 1, 2]
    assert "episodes=3" in repr(buffer) and "steps=19" in repr(buffer)

    reopened = ReplayBuffer(tmp_path)
    assert reopened.episode_indices == [0, 1, 2] and reopened.num_steps == 19
    for before, after in zip(buffer.episodes, reopened.episodes, strict=True):
        assert before.keys() == after.keys()
        for key in before:
            assert before[key].dtype == after[key].dtype
            np.testing.assert_array_equal(before[key], after[key])
    assert reopened.add_episode(make_episode(3, 2)).name == "000003-2.npz"
    assert reopened.last_index == 3


def test_add_episode_copies_the_arrays(tmp_path):
    buffer = ReplayBuffer(tmp_path)
    episode = make_episode(1, 3)
    buffer.add_episode(episode)
    episode["reward"][:] = -1.0
    assert (buffer.episodes[0]["reward"] >= 0).all()


def test_truncated_file_is_skipped_with_warning(tmp_path):
    buffer = ReplayBuffer(tmp_path)
    for i in range(3):
        buffer.add_episode(make_episode(i, 20))
    bad = tmp_path / "000001-20.npz"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])

    with pytest.warns(UserWarning, match="000001-20.npz"):
        reopened = ReplayBuffer(tmp_path)
    assert reopened.episode_indices == [0, 2]
    assert bad.exists()  # skipped, not deleted
    # The counter continues after the corrupt file too, so it is never overwritten.
    assert reopened.add_episode(make_episode(3, 2)).name == "000003-2.npz"


def test_inconsistent_file_is_skipped_with_warning(tmp_path):
    ReplayBuffer(tmp_path).add_episode(make_episode(0, 5))
    bad = make_episode(1, 5)
    bad["reward"] = bad["reward"][:-1]  # 5 entries instead of 6
    np.savez_compressed(tmp_path / "000001-5.npz", **bad)
    np.savez_compressed(tmp_path / "000002-9.npz", **make_episode(2, 5))  # name lies about L
    with pytest.warns(UserWarning) as record:
        reopened = ReplayBuffer(tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "000001-5.npz" in messages and "first (time) dimension" in messages
    assert "000002-9.npz" in messages
    assert reopened.episode_indices == [0]


def test_stray_temp_files_are_removed_on_open(tmp_path):
    ReplayBuffer(tmp_path).add_episode(make_episode(0, 3))
    stray = tmp_path / ".000001-3.npz.tmp"  # what a writer killed mid-write leaves behind
    stray.write_bytes(b"PK\x03\x04 half an episode")
    reopened = ReplayBuffer(tmp_path)
    assert reopened.episode_indices == [0]
    assert not stray.exists()
    assert episode_files(tmp_path) == ["000000-3.npz"]


def test_crash_during_write_leaves_no_final_file(tmp_path, monkeypatch):
    buffer = ReplayBuffer(tmp_path)
    buffer.add_episode(make_episode(0, 4))

    seen_mid_write = []

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 the first bytes of a zip file")
        file.flush()
        # If the process were killed right now, this is what the folder would hold.
        seen_mid_write.extend(episode_files(tmp_path))
        raise OSError("disk full")

    monkeypatch.setattr(replay.np, "savez_compressed", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        buffer.add_episode(make_episode(1, 4))
    monkeypatch.undo()

    # Mid-write the new episode existed only under a hidden temp name, never the final one.
    assert len(seen_mid_write) == 2 and seen_mid_write[0].startswith(".")
    assert seen_mid_write[0].endswith(".tmp") and "000000-4.npz" in seen_mid_write
    assert episode_files(tmp_path) == ["000000-4.npz"]  # no final file, no temp file
    assert buffer.episode_indices == [0] and buffer.num_steps == 4  # memory unchanged
    reopened = ReplayBuffer(tmp_path)
    assert reopened.episode_indices == [0] and reopened.num_steps == 4
    # After the failure the buffer still works and the unused index is reused.
    assert buffer.add_episode(make_episode(1, 4)).name == "000001-4.npz"


def test_capacity_evicts_oldest_but_keeps_newest(tmp_path):
    buffer = ReplayBuffer(tmp_path, capacity=10)
    for i in range(3):
        buffer.add_episode(make_episode(i, 4))  # 12 steps > 10: episode 0 goes
    assert buffer.episode_indices == [1, 2] and buffer.num_steps == 8
    assert episode_files(tmp_path) == ["000001-4.npz", "000002-4.npz"]

    buffer.add_episode(make_episode(3, 25))  # alone over capacity: still kept
    assert buffer.episode_indices == [3] and buffer.num_steps == 25
    assert episode_files(tmp_path) == ["000003-25.npz"]
    assert buffer.episodes[0]["obs"][0, 0, 0, 0] == 3
    # The counter continues after the newest file, not after the number of files.
    assert ReplayBuffer(tmp_path).add_episode(make_episode(4, 2)).name == "000004-2.npz"

    # Reopening with a smaller capacity trims the folder the same way.
    big = ReplayBuffer(tmp_path / "big")
    for i in range(4):
        big.add_episode(make_episode(i, 5))
    small = ReplayBuffer(tmp_path / "big", capacity=12)
    assert small.episode_indices == [2, 3]
    assert episode_files(tmp_path / "big") == ["000002-5.npz", "000003-5.npz"]


def test_sampling_is_uniform_over_windows(tmp_path):
    buffer = ReplayBuffer(tmp_path, seed=3)
    # With windows of 2 entries an episode of L steps has L windows: 1 + 9 + 90 = 100.
    for episode_id, steps in enumerate([1, 9, 90]):
        buffer.add_episode(make_episode(episode_id, steps))
    ids, starts = [], []
    for _ in range(20):
        batch = buffer.sample(1000, 2)
        ids.append(batch["action"][0, :, 0].long())
        starts.append(batch["action"][0, :, 1].long())
    ids, starts = torch.cat(ids), torch.cat(starts)  # (20000,)

    frequency = torch.bincount(ids, minlength=3).double() / len(ids)
    torch.testing.assert_close(
        frequency, torch.tensor([0.01, 0.09, 0.90]).double(), atol=0.01, rtol=0
    )
    # Within the long episode every start 0..89 is used about 200 times.
    long_starts = torch.bincount(starts[ids == 2], minlength=91)
    assert long_starts[90] == 0  # a window starting at the last entry would cross the end
    assert long_starts[:90].min() > 100 and long_starts[:90].max() < 300


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ep: ep.pop("reward"), "missing key"),
        (lambda ep: ep.update(action=ep["action"][:-1]), "first \\(time\\) dimension"),
        (
            lambda ep: ep.update(
                obs=ep["obs"][:1],
                action=ep["action"][:1],
                reward=ep["reward"][:1],
                discount=ep["discount"][:1],
            ),
            "at least 2 entries",
        ),
        (lambda ep: ep.update(action=ep["action"][:, 0]), "action must have shape"),
        (lambda ep: ep.update(reward=ep["reward"][:, None]), "reward must have shape"),
    ],
)
def test_invalid_episode_raises_value_error(tmp_path, change, message):
    buffer = ReplayBuffer(tmp_path)
    episode = make_episode(0, 5)
    change(episode)
    with pytest.raises(ValueError, match=message):
        buffer.add_episode(episode)
    assert buffer.num_episodes == 0 and episode_files(tmp_path) == []


def test_episode_keys_must_match_stored_episodes(tmp_path):
    buffer = ReplayBuffer(tmp_path)
    buffer.add_episode(make_episode(0, 5))
    episode = make_episode(1, 5)
    del episode["discount"]
    with pytest.raises(ValueError, match="keys"):
        buffer.add_episode(episode)


def test_invalid_sample_arguments_raise_value_error(tmp_path):
    buffer = ReplayBuffer(tmp_path)
    with pytest.raises(ValueError, match="at least 5 entries; have 0 episode"):
        buffer.sample(2, 5)
    buffer.add_episode(make_episode(0, 3))  # 4 entries
    with pytest.raises(ValueError, match="at least 5 entries; have 1 episode.*4 entries"):
        buffer.sample(2, 5)
    with pytest.raises(ValueError, match="batch_size and length must be >= 1"):
        buffer.sample(0, 2)
    with pytest.raises(ValueError, match="batch_size and length must be >= 1"):
        buffer.sample(2, 0)
    assert buffer.sample(2, 4)["obs"].shape == (4, 2, 3, 4, 4)


def test_state_dict_round_trip_reproduces_samples(tmp_path):
    buffer = ReplayBuffer(tmp_path, seed=5)
    for i in range(4):
        buffer.add_episode(make_episode(i, 10 + 5 * i))
    buffer.sample(8, 3)  # advance the generator
    state = buffer.state_dict()
    first = buffer.sample(16, 6)

    other = ReplayBuffer(tmp_path, seed=123)  # same folder, different seed
    other.load_state_dict(state)
    second = other.sample(16, 6)
    for key in first:
        torch.testing.assert_close(first[key], second[key])
    # Same seed, same samples; a different seed gives different ones.
    a, b = ReplayBuffer(tmp_path, seed=9), ReplayBuffer(tmp_path, seed=9)
    torch.testing.assert_close(a.sample(16, 6)["action"], b.sample(16, 6)["action"])
    assert not torch.equal(
        a.sample(16, 6)["action"], ReplayBuffer(tmp_path).sample(16, 6)["action"]
    )


def filled_buffer(directory: Path, seed: int = 3) -> ReplayBuffer:
    buffer = ReplayBuffer(directory, seed=seed)
    for episode_id in range(4):
        buffer.add_episode(make_episode(episode_id, 10 + 5 * episode_id))
    return buffer


def assert_same_batches(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            assert torch.equal(x[key], y[key]), key


def test_prefetcher_yields_the_batches_of_direct_sampling(tmp_path):
    """Same seed, same batches in the same order, and the sampler ends where direct sampling
    ends (the next batch drawn afterwards is the same too)."""
    direct_buffer = filled_buffer(tmp_path / "a")
    direct = [direct_buffer.sample(5, 6) for _ in range(7)]
    buffer = filled_buffer(tmp_path / "b")
    with Prefetcher(buffer, 5, 6, count=7, depth=2) as batches:
        prefetched = list(batches)
    assert_same_batches(prefetched, direct)
    assert_same_batches([buffer.sample(5, 6)], [direct_buffer.sample(5, 6)])


def test_prefetcher_stopped_early_rewinds_to_the_first_batch_not_handed_out(tmp_path):
    """Leaving the loop after 2 of 6 batches (an error in an update): the thread has sampled
    ahead, but the sampler is rewound, so a checkpoint holds the state of direct sampling."""
    direct_buffer = filled_buffer(tmp_path / "a")
    direct = [direct_buffer.sample(5, 6) for _ in range(3)]
    buffer = filled_buffer(tmp_path / "b")
    taken = []
    with (
        pytest.raises(RuntimeError, match="update failed"),
        Prefetcher(buffer, 5, 6, count=6, depth=2) as batches,
    ):
        for batch in batches:
            taken.append(batch)
            if len(taken) == 2:
                time.sleep(0.2)  # let the thread run ahead
                raise RuntimeError("update failed")
    assert_same_batches(taken, direct[:2])
    state = buffer.state_dict()
    assert_same_batches([buffer.sample(5, 6)], [direct[2]])
    buffer.load_state_dict(state)
    with Prefetcher(buffer, 5, 6, count=1) as batches:  # a resumed learn() continues
        assert_same_batches(list(batches), [direct[2]])


def test_prefetcher_raises_the_samplers_error_in_the_loop(tmp_path):
    buffer = filled_buffer(tmp_path)
    with (
        pytest.raises(ValueError, match="at least 100 entries"),
        Prefetcher(buffer, 2, 100, count=3) as batches,
    ):
        list(batches)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned memory needs CUDA")
def test_pinned_sample_equals_plain_sample(tmp_path):
    buffer = filled_buffer(tmp_path)
    state = buffer.state_dict()
    plain = buffer.sample(5, 6)
    buffer.load_state_dict(state)
    pinned = buffer.sample(5, 6, pin_memory=True)
    assert all(value.is_pinned() for value in pinned.values())
    assert_same_batches([pinned], [plain])
