"""scripts/bench_plain.py compares like with like: its plain implementation is the same model
(same loss and gradients as the package's, within float32 rounding), only written plainly."""

import torch

from dreamer_lite import world_model
from dreamer_lite.agent import Dreamer
from dreamer_lite.bench import random_batch
from dreamer_lite.config import Config


def test_plain_implementation_has_the_packages_loss_and_gradients(monkeypatch, load_script):
    # _plain swaps module-level functions; monkeypatch puts them back after the test.
    monkeypatch.setattr(world_model, "preprocess_obs", world_model.preprocess_obs)
    monkeypatch.setattr(world_model, "log_likelihood", world_model.log_likelihood)
    cfg = Config.tiny(device="cpu", cnn_depth=4, batch_size=3, seq_len=4)
    batch = random_batch(cfg, (3, 64, 64), 1)
    results = []
    for plain in (False, True):
        torch.manual_seed(0)
        agent = Dreamer(cfg, (3, 64, 64), 1)
        if plain:
            load_script("bench_plain")._plain(agent)
            assert world_model.preprocess_obs(batch["obs"]).is_contiguous()  # plain layout
        loss, _, _ = agent.world_model.loss(batch)
        loss.backward()
        grads = [p.grad.clone() for p in agent.world_model.parameters() if p.grad is not None]
        results.append((loss.detach(), grads))
    (loss, grads), (plain_loss, plain_grads) = results
    torch.testing.assert_close(loss, plain_loss, rtol=1e-5, atol=1e-3)
    assert len(grads) == len(plain_grads) > 20
    for grad, plain_grad in zip(grads, plain_grads):
        torch.testing.assert_close(grad, plain_grad, rtol=1e-4, atol=1e-4)
