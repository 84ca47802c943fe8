"""The MLP itself: input features, the network, linear collapse, symmetry, backprop by hand.

- **Hidden layers learn the features.** :func:`build_mlp` stacks ``nn.Linear``
  layers with an activation per layer (sigmoid, tanh, ReLU, softplus, identity);
  :func:`features` adds Playground's hand-made inputs (x₁², x₁x₂, sin x₁…) for
  comparison.
- **Without a nonlinearity, layers collapse.** :func:`collapse_linear` multiplies
  the trained weights out into one layer (w′, b′); :func:`collapse_two_layers_by_hand`
  is the slide's formula w′ᵢ = Σⱼ wⱼᵒ wᵢⱼʰ, b′ = Σⱼ wⱼᵒ bⱼʰ + bᵒ as loops.
- **Zero init ⇒ symmetry.** :func:`symmetry_gaps` measures the largest pairwise
  difference between hidden units' incoming weights (0 = identical units).
- **Backprop is the chain rule.** :func:`manual_gradients` computes every
  gradient by hand; tests compare it with autograd.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lab.device import single_thread

# --- input features ---------------------------------------------------------------

#: Playground's input features. Our data live in about [−1, 1] (Playground: [−6, 6]),
#: so sin uses π·x to keep about one period across the plane.
FEATURES: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = {
    "x1": ("X₁", lambda X: X[:, 0]),
    "x2": ("X₂", lambda X: X[:, 1]),
    "x1sq": ("X₁²", lambda X: X[:, 0] ** 2),
    "x2sq": ("X₂²", lambda X: X[:, 1] ** 2),
    "x1x2": ("X₁X₂", lambda X: X[:, 0] * X[:, 1]),
    "sin1": ("sin(πX₁)", lambda X: torch.sin(math.pi * X[:, 0])),
    "sin2": ("sin(πX₂)", lambda X: torch.sin(math.pi * X[:, 1])),
}
FEATURE_LABELS = {k: v[0] for k, v in FEATURES.items()}


def features(X: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Points ``X`` (N, 2) → input features (N, len(names)), in the order given."""
    if not names:
        raise ValueError("choose at least one input feature")
    return torch.stack([FEATURES[n][1](X) for n in names], dim=1)


# --- the network ----------------------------------------------------------------------

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}
ACTIVATION_LABELS = {
    "tanh": "tanh",
    "relu": "ReLU",
    "sigmoid": "sigmoid σ",
    "softplus": "softplus",
    "identity": "identity (linear)",
}


def build_mlp(in_features: int, hidden: Sequence[int], activations: Sequence[str], out_features: int) -> nn.Sequential:
    """``Linear → act → … → Linear`` as an ``nn.Sequential`` (so the state_dict loads in plain PyTorch).

    Input (N, in_features) → logits (N, out_features). Every hidden layer has an
    activation module (``nn.Identity`` for "identity"), so module ``2·i`` is the
    i-th linear layer and ``2·i + 1`` its activation.
    """
    if len(activations) != len(hidden):
        raise ValueError(f"{len(hidden)} hidden layers need {len(hidden)} activations, got {len(activations)}")
    layers: list[nn.Module] = []
    width = in_features
    for h, act in zip(hidden, activations, strict=True):
        layers += [nn.Linear(width, h), ACTIVATIONS[act]()]
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``model`` in order (hidden ones, then the output)."""
    return [m for m in model if isinstance(m, nn.Linear)]


def layer_outputs(model: nn.Sequential, X: torch.Tensor) -> list[torch.Tensor]:
    """Every hidden layer's activations, then the logits: ``[(N, h₁), …, (N, out)]``."""
    outs = []
    for i, module in enumerate(model):
        X = module(X)
        if not isinstance(module, nn.Linear) or i == len(model) - 1:
            outs.append(X)
    return outs


# --- linear collapse -----------------------------------------------------------------


def collapse_two_layers_by_hand(
    W_h: torch.Tensor, b_h: torch.Tensor, w_o: torch.Tensor, b_o: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The slide's formula with explicit loops, for one hidden layer and one output.

    ``W_h`` (H, D), ``b_h`` (H,), ``w_o`` (H,), ``b_o`` () →
    w′ (D,) with w′ᵢ = Σⱼ wⱼᵒ wᵢⱼʰ and b′ = Σⱼ wⱼᵒ bⱼʰ + bᵒ.
    """
    H, D = W_h.shape
    w = torch.zeros(D, dtype=W_h.dtype)
    b = b_o.clone().reshape(())
    for j in range(H):
        for i in range(D):
            w[i] += w_o[j] * W_h[j, i]
        b += w_o[j] * b_h[j]
    return w, b


@torch.no_grad()
def collapse_linear(model: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiply every layer out into one: logits ≈ X @ W′ᵀ + b′.

    Exact when every activation is the identity. Returns ``W′`` (out, in) and
    ``b′`` (out,) on the CPU, in float64 so the comparison shows only the
    network's own rounding.
    """
    W, b = None, None
    for layer in linear_layers(model):
        Wl, bl = layer.weight.double().cpu(), layer.bias.double().cpu()
        W, b = (Wl, bl) if W is None else (Wl @ W, Wl @ b + bl)
    return W, b


def is_linear(model: nn.Sequential) -> bool:
    """True when every activation in ``model`` is the identity."""
    return all(isinstance(m, nn.Linear | nn.Identity) for m in model)


@dataclass(frozen=True)
class Collapse:
    """The single layer equivalent to a network's layers, and how well it matches."""

    weight: np.ndarray  # (out, in) W′
    bias: np.ndarray  # (out,) b′
    max_diff: float  # max |logits(network) − logits(collapsed)| on the data and grid
    linear: bool  # every activation is the identity (then max_diff is rounding only)


# --- symmetry -------------------------------------------------------------------------


@torch.no_grad()
def symmetry_gaps(model: nn.Sequential) -> list[float]:
    """Per hidden layer: the largest pairwise difference between its units' incoming weights.

    A unit's incoming weights are its row of ``W`` plus its bias. The gap is
    ``max_{j,k} max_i |row_j[i] − row_k[i]|``: 0 means every unit in the layer
    is the same function (the symmetry problem); a layer of one unit reports 0.
    """
    gaps = []
    for layer in linear_layers(model)[:-1]:
        rows = torch.cat([layer.weight, layer.bias[:, None]], dim=1).double()  # (H, D + 1)
        gaps.append(float((rows[:, None, :] - rows[None, :, :]).abs().max()) if len(rows) > 1 else 0.0)
    return gaps


# --- backpropagation by hand -----------------------------------------------------------


def _activation_grad(module: nn.Module, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """f′(z) for the activation ``a = f(z)`` (elementwise)."""
    if isinstance(module, nn.Sigmoid):
        return a * (1 - a)
    if isinstance(module, nn.Tanh):
        return 1 - a**2
    if isinstance(module, nn.ReLU):
        return (z > 0).to(z.dtype)
    if isinstance(module, nn.Softplus):
        return torch.sigmoid(z)
    return torch.ones_like(z)


def output_delta(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """∂L/∂logits for the mean loss: (N, out). The chain rule starts here.

    BCE with logits: (σ(z) − y)/N. Softmax CE: (softmax(z) − onehot(y))/N.
    MSE on the raw output (regression): 2(z − y)/N.
    """
    N = logits.shape[0]
    if loss == "regression":
        return 2 * (logits - y.reshape(-1, 1)) / N
    if logits.shape[1] == 1:
        return (torch.sigmoid(logits) - y.reshape(-1, 1).to(logits.dtype)) / N
    return (torch.softmax(logits, dim=1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)) / N


@torch.no_grad()
def manual_gradients(
    model: nn.Sequential, X: torch.Tensor, y: torch.Tensor, loss: str = "ce"
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Backpropagation by hand: ``[(∂L/∂W, ∂L/∂b)]`` for every linear layer, in order.

    Forward: zₗ = aₗ₋₁ Wₗᵀ + bₗ, aₗ = f(zₗ). Backward from δ = ∂L/∂z_out:
    ∂L/∂Wₗ = δₗᵀ aₗ₋₁, ∂L/∂bₗ = Σₙ δₗ, δₗ₋₁ = (δₗ Wₗ) ⊙ f′(zₗ₋₁).
    ``loss`` is "ce" (binary or softmax cross-entropy) or "regression" (MSE).
    """
    linears = linear_layers(model)
    acts = [m for m in model if not isinstance(m, nn.Linear)]
    a_list, z_list = [X], []
    a = X
    for i, layer in enumerate(linears):
        z = a @ layer.weight.T + layer.bias
        z_list.append(z)
        a = acts[i](z) if i < len(acts) else z
        a_list.append(a)
    delta = output_delta(z_list[-1], y, loss)
    grads: list[tuple[torch.Tensor, torch.Tensor]] = []
    for i in reversed(range(len(linears))):
        grads.append((delta.T @ a_list[i], delta.sum(0)))
        if i > 0:
            delta = (delta @ linears[i].weight) * _activation_grad(acts[i - 1], z_list[i - 1], a_list[i])
    return grads[::-1]


# --- threads -----------------------------------------------------------------------------

#: Below this many parameters a model trains on one CPU thread (see :func:`small_model_threads`).
SMALL_MODEL_PARAMS = 100_000


def small_model_threads(model: nn.Module, device: str) -> contextlib.AbstractContextManager:
    """One intra-op thread while a tiny CPU model trains (``lab.device.single_thread``).

    Playground-sized networks do thousands of microsecond-sized matmuls; the
    thread pool's hand-offs cost more than the maths (measured: 50 epochs 0.54 s
    on 1 thread vs 8.4 s on 2 on a busy 2-core machine).
    """
    small = device == "cpu" and sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS
    return single_thread(small)


# --- losses and outputs ----------------------------------------------------------------


def data_loss(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss of ``logits`` (N, out) against ``y`` (N,).

    ``loss``: "ce" — binary cross-entropy with logits (out = 1) or softmax
    cross-entropy (out = K); "mse" — squared error between the probabilities and
    the 0/1 (one-hot) targets; "regression" — squared error on the raw output.
    """
    if loss == "regression":
        return F.mse_loss(logits[:, 0], y)
    if logits.shape[1] == 1:
        if loss == "ce":
            return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
        return F.mse_loss(torch.sigmoid(logits[:, 0]), y.to(logits.dtype))
    if loss == "ce":
        return F.cross_entropy(logits, y)
    return F.mse_loss(torch.softmax(logits, dim=1), F.one_hot(y, logits.shape[1]).to(logits.dtype))


def predict_classes(logits: torch.Tensor) -> torch.Tensor:
    """Logits (N, 1) or (N, K) → class indices (N,)."""
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)


def output_map(logits: torch.Tensor, task: str) -> torch.Tensor:
    """Logits (N, out) → what the output heatmap shows: P(y=1) (N, 1), softmax (N, K) or the prediction."""
    if task == "regression":
        return logits
    if logits.shape[1] == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=1)
