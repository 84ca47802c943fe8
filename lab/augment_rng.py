"""Seeded draws that never touch torch's global RNG, for code that only knows the global RNG.

torchvision's ``transforms.v2`` draw their random parameters from torch's
*global* generator (``torch.rand(1)``, ``torch.empty(1).uniform_(…)``,
``torch.randint``…), and the usual recipe — ``torch.manual_seed(s)`` before each
sample — is what the lab's generated code shows. In a Streamlit server every
session runs in one process, so two sessions drawing previews at once would
reseed and consume that one generator in turn: each grid would then depend on
the other session's timing (measured: 15 of 15 grids differed from the same
seed drawn alone). ``torch.random.fork_rng`` does not help — it saves and
restores the state, but the state is still shared while both run.

:func:`private_rng` runs a block with every random draw redirected to a
private ``torch.Generator`` seeded like ``torch.manual_seed(seed)`` would seed
the global one. It is a ``TorchFunctionMode``: torch calls every Python-level
torch function and tensor method through the modes on the *calling thread's*
stack, so the block sees ``generator=<private>`` added to each random call
that does not name its own generator, and other threads are unaffected.

Why the draws are the same numbers as the generated code's: a fresh
``torch.Generator().manual_seed(s)`` and the CPU default generator after
``torch.manual_seed(s)`` are the same Mersenne Twister in the same state, and
every random op consumes it the same way whichever generator it is given. So
``pipeline(image)`` inside ``private_rng(s)`` returns exactly what
``torch.manual_seed(s); pipeline(image)`` returns (tested bit for bit), and the
"Compose code reproduces the grid" promise holds while other sessions draw.

A mode is switched off while it handles a call, so an overridable function
that draws *inside* (``nn.init.kaiming_uniform_``, ``F.dropout``) must be
handled at its own level: the ``nn.init`` functions get the generator too;
random ops without a ``generator`` argument (dropout and friends draw from the
global generator inside C++) cannot be redirected and raise ``RuntimeError``
inside the block rather than silently using the shared generator. Tests check
that each pipeline and the lab's training leave the global generator's state
exactly as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

#: Random functions and methods that take a ``generator=`` keyword.
RANDOM_WITH_GENERATOR = frozenset(
    {
        torch.rand,
        torch.randn,
        torch.randint,
        torch.randperm,
        torch.rand_like,
        torch.randn_like,
        torch.randint_like,
        torch.normal,
        torch.bernoulli,
        torch.multinomial,
        torch.poisson,
        torch._sample_dirichlet,
        torch._standard_gamma,
        torch.Tensor.uniform_,
        torch.Tensor.normal_,
        torch.Tensor.random_,
        torch.Tensor.exponential_,
        torch.Tensor.bernoulli_,
        torch.Tensor.bernoulli,
        torch.Tensor.cauchy_,
        torch.Tensor.log_normal_,
        torch.Tensor.geometric_,
        torch.Tensor.multinomial,
        # nn.init's functions are themselves overridable: the mode sees them, not the draws inside
        # (a mode is off while it handles a call), so they get the generator at this level.
        nn.init.uniform_,
        nn.init.normal_,
        nn.init.trunc_normal_,
        nn.init.kaiming_uniform_,
        nn.init.kaiming_normal_,
        nn.init.xavier_uniform_,
        nn.init.xavier_normal_,
        nn.init.orthogonal_,
        nn.init.sparse_,
    }
)

#: Random ops that always use the global generator (no ``generator`` argument): refused inside the block.
RANDOM_WITHOUT_GENERATOR = frozenset(
    {
        F.dropout,
        F.dropout1d,
        F.dropout2d,
        F.dropout3d,
        F.alpha_dropout,
        F.feature_alpha_dropout,
        F.rrelu,
        F.gumbel_softmax,
        torch.dropout,
        torch.rrelu,
    }
)


def _device_of(func: Any, args: tuple, kwargs: dict) -> torch.device:
    """Where the op draws: the input tensor's device, or the factory's ``device=`` (default: the CPU)."""
    for a in args:
        if isinstance(a, torch.Tensor):
            return a.device
    device = kwargs.get("device")
    return torch.device(device) if device is not None else torch.device("cpu")


class PrivateRNG(TorchFunctionMode):
    """Give every random torch call in the block ``generator=`` one private generator per device."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = int(seed)
        self.generators: dict[torch.device, torch.Generator] = {}
        self.draws = 0  # random calls redirected (tests check that a pipeline really draws)

    def generator(self, device: torch.device) -> torch.Generator:
        g = self.generators.get(device)
        if g is None:
            g = self.generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return g

    def reseed(self, seed: int) -> None:
        """Like ``torch.manual_seed(seed)`` for the block: every device's generator starts again at ``seed``."""
        self.seed = int(seed)
        for g in self.generators.values():
            g.manual_seed(self.seed)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in RANDOM_WITH_GENERATOR and kwargs.get("generator") is None:
            kwargs = {**kwargs, "generator": self.generator(_device_of(func, args, kwargs))}
            self.draws += 1
        elif func in RANDOM_WITHOUT_GENERATOR and _draws(func, args, kwargs):
            name = getattr(func, "__name__", repr(func))
            raise RuntimeError(f"{name} draws from torch's global RNG (no generator argument): not allowed here")
        return func(*args, **kwargs)


def _draws(func: Any, args: tuple, kwargs: dict) -> bool:
    """Whether a dropout-like call draws at all (in eval mode, ``training=False``, it does not)."""
    if func in (F.gumbel_softmax, torch.rrelu):
        return True
    if func is torch.dropout:  # dropout(input, p, train)
        return bool(kwargs.get("train", args[2] if len(args) > 2 else True))
    default = func not in (F.alpha_dropout, F.feature_alpha_dropout, F.rrelu)  # their training defaults to False
    return bool(kwargs.get("training", args[2] if len(args) > 2 else default))


@contextlib.contextmanager
def private_rng(seed: int) -> Iterator[PrivateRNG]:
    """Run the block with random draws from private generators seeded ``seed`` (see the module docstring).

    The global RNG is neither read nor advanced; the draws equal those made after
    ``torch.manual_seed(seed)``. ``mode.reseed(s)`` inside the block starts again at ``s``.
    """
    mode = PrivateRNG(seed)
    with mode:
        yield mode
