"""Weight initialisation: where training starts, and why zeros never learn.

The lecture's point: if every hidden unit starts with the same incoming weights
they compute the same thing, receive the same gradient and stay identical forever
(the *symmetry problem*). Random starts — N(0, 0.01), U(0, 0.1), or the scaled
Xavier/Glorot and Kaiming/He schemes — break the tie.

Taught twice: :func:`xavier_bound` and :func:`kaiming_std` are the formulas by
hand; :func:`init_linear` uses ``torch.nn.init`` (tests check the two agree).
Every random draw takes a private ``torch.Generator``, so the same seed gives the
same weights whatever else ran before.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lab.params import Param

INITS = ("zeros", "constant", "normal", "uniform", "xavier", "kaiming")
INIT_LABELS = {
    "zeros": "Zeros (symmetry!)",
    "constant": "Constant c (symmetry!)",
    "normal": "Normal N(0, σ²), σ chosen",
    "uniform": "Uniform U(0, 0.1)",
    "xavier": "Xavier / Glorot",
    "kaiming": "Kaiming / He (activation's gain)",
}

#: Widget specs for the initialisation controls (page builds them in a loop).
INIT_SPECS = (
    Param(
        "init",
        "Initialisation",
        "xavier",
        kind="choice",
        options=INITS,
        labels=INIT_LABELS,
        help="How the weights start. Zeros or a constant make every hidden unit identical — forever. Xavier: "
        "U(±gain·√(6/(fan_in+fan_out))); Kaiming/He: N(0, gain²/fan_in) with the gain of the layer's activation "
        "(√2 ReLU and softplus, 5/3 tanh, 1 sigmoid and identity).",
    ),
    Param(
        "sigma",
        "σ of N(0, σ²)",
        0.01,
        kind="log",
        lo=1e-4,
        hi=2.0,
        help="The standard deviation σ. The slide's N(0, 0.01) reads as σ = 0.01 (the default); in N(μ, σ²) notation "
        "0.01 is the variance, σ = 0.1. Both stay at chance on Playground-sized nets (see the Initialisation tab).",
    ),
    Param("constant", "Constant c", 0.1, kind="float", lo=-1.0, hi=1.0, step=0.05, help="Every weight and bias = c."),
)

# torch.nn.init.calculate_gain knows these; softplus ≈ ReLU for large inputs, identity is linear.
_GAIN_NAME = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "softplus": "relu", "identity": "linear"}


def xavier_bound(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """By hand: Xavier/Glorot uniform draws from U(−a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


def kaiming_std(fan_in: int, gain: float = math.sqrt(2.0)) -> float:
    """By hand: Kaiming/He normal draws from N(0, std²) with std = gain / √fan_in (gain √2 for ReLU)."""
    return gain / math.sqrt(fan_in)


def gain_for(activation: str) -> float:
    """The recommended gain (``torch.nn.init.calculate_gain``) for an activation name."""
    return nn.init.calculate_gain(_GAIN_NAME.get(activation, "linear"))


@torch.no_grad()
def init_linear(
    layer: nn.Linear,
    scheme: str,
    *,
    generator: torch.Generator | None = None,
    sigma: float = 0.01,
    constant: float = 0.1,
    activation: str = "identity",
) -> None:
    """Initialise one ``nn.Linear`` (weight (out, in), bias (out,)) in place.

    Biases start at 0 except for ``constant`` (everything = c). ``activation``
    is the nonlinearity *after* this layer; it picks the Xavier/Kaiming gain.
    """
    if scheme not in INITS:
        raise ValueError(f"unknown initialisation {scheme!r}; choose one of {INITS}")
    w, b = layer.weight, layer.bias
    if scheme == "zeros":
        nn.init.zeros_(w)
    elif scheme == "constant":
        nn.init.constant_(w, constant)
    elif scheme == "normal":
        nn.init.normal_(w, 0.0, sigma, generator=generator)
    elif scheme == "uniform":
        nn.init.uniform_(w, 0.0, 0.1, generator=generator)
    elif scheme == "xavier":
        nn.init.xavier_uniform_(w, gain=gain_for(activation), generator=generator)
    else:  # kaiming: N(0, gain²/fan_in); He et al. derive gain √2 for ReLU, here the chosen activation's gain
        nn.init.kaiming_normal_(w, nonlinearity=_GAIN_NAME.get(activation, "linear"), generator=generator)
    if b is not None:
        nn.init.constant_(b, constant if scheme == "constant" else 0.0)


def init_network(
    model: nn.Module,
    scheme: str,
    *,
    seed: int = 0,
    sigma: float = 0.01,
    constant: float = 0.1,
    activations: tuple[str, ...] = (),
) -> None:
    """Initialise every ``nn.Linear`` of ``model`` in order with one seeded generator.

    ``activations[i]`` is the activation after the i-th linear layer (the output
    layer, past the end of the tuple, counts as ``identity``). Draws happen on the
    CPU generator, so CPU and GPU models with the same seed start identical
    (initialise before ``.to(device)``).
    """
    g = torch.Generator().manual_seed(seed)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        act = activations[i] if i < len(activations) else "identity"
        init_linear(layer, scheme, generator=g, sigma=sigma, constant=constant, activation=act)
