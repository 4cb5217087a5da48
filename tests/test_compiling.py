"""``Config.compile``: a compiled agent computes what the eager one does, and keeps its names."""

from __future__ import annotations

import shutil

import pytest
import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.bench import random_batch
from dreamer_lite.compiling import check_compiler
from dreamer_lite.config import Config

needs_cxx = pytest.mark.skipif(
    not (shutil.which("g++") or shutil.which("c++")), reason="torch.compile on CPU needs g++"
)


@pytest.mark.slow  # about 70 s of compilation on 2 cores
@needs_cxx
def test_compiled_update_matches_eager():
    cfg = Config.tiny(device="cpu", batch_size=4, seq_len=6, horizon=3)
    torch.manual_seed(0)
    eager = Dreamer(cfg, (3, 64, 64), 1)
    torch.manual_seed(0)
    compiled = Dreamer(cfg.replace(compile=True), (3, 64, 64), 1)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints interchange
    assert compiled.world_model.decoder._compiled_call_impl is not None
    assert hasattr(compiled.world_model.rssm.observe_step, "_torchdynamo_orig_callable")
    assert eager.world_model.decoder._compiled_call_impl is None
    batch = random_batch(cfg, (3, 64, 64), 1, seed=1)
    with torch._inductor.config.patch(fallback_random=True):  # the same noise as eager
        for _ in range(2):  # the second update runs on parameters the first one changed
            torch.manual_seed(2)
            want = eager.update(batch)
            torch.manual_seed(2)
            got = compiled.update(batch)
            for key in ("model_loss", "kl", "obs_log_prob", "actor_loss", "value_loss"):
                assert got[key] == pytest.approx(want[key], rel=1e-4, abs=1e-4), key
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)


def test_compile_without_a_compiler_names_the_fix(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install g\\+\\+"):
        check_compiler(torch.device("cpu"))


def test_compile_must_be_a_bool():
    with pytest.raises(ValueError, match="compile"):
        Config.tiny(compile="yes")
