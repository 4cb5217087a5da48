"""``torch.compile`` for the agent's hot paths (``Config.compile``): same maths, fused kernels.

What gets compiled, in place (parameter names and checkpoints are unchanged):

* the conv encoder and decoder (ReLU and layout copies fuse around the convolutions),
* the reward, actor and critic MLPs (ELU and bias adds fuse),
* ``RSSM.observe_step`` and ``RSSM.imagine_step``, the bodies of the two loops that run 50
  (filtering) and 15 (imagination) times per update.

The loops themselves stay in Python, so each step reuses one compiled graph. Shapes are
static (``dynamic=False``): training, acting and evaluation each get their own graph. Random
numbers inside compiled code come from the compiler's generator, not torch's, so a compiled and
an eager agent with one seed draw different noise; with ``torch._inductor.config.fallback_random``
they draw the same (the test does that). On a CPU the compiler writes C++ and needs ``g++``.
"""

from __future__ import annotations

import shutil

import torch
from torch import nn


def check_compiler(device: torch.device) -> None:
    """Raise a clear error if compiling for ``device`` cannot work here."""
    if device.type == "cpu" and not (shutil.which("g++") or shutil.which("c++")):
        raise RuntimeError(
            "Config.compile=True on a CPU needs a C++ compiler, and none was found. Install one "
            "(Debian/Ubuntu: apt-get install g++) or run with compile=False."
        )


def compile_agent(agent: nn.Module) -> None:
    """Compile a ``Dreamer``'s networks and RSSM steps in place. Called by ``Dreamer`` itself
    when ``cfg.compile`` is true."""
    check_compiler(agent.device)
    world_model = agent.world_model
    for module in (
        world_model.encoder,
        world_model.decoder,
        world_model.reward.net,
        agent.actor.net,
        agent.critic.net,
    ):
        if module is not None:
            module.compile(dynamic=False)
    rssm = world_model.rssm
    # Instance attributes shadow the methods; observe_step's call to imagine_step is traced
    # into its own graph, so the filtering loop runs one fused graph per step.
    rssm.imagine_step = torch.compile(rssm.imagine_step, dynamic=False)
    rssm.observe_step = torch.compile(rssm.observe_step, dynamic=False)
