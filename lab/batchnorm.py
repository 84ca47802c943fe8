"""Batch normalisation by hand, its running statistics, and why the bias before BN is redundant.

In training mode BN normalises every unit of a hidden layer with the *batch's*
mean and variance, then rescales with learnable γ, β::

    ĥ = (h − mean_batch) / sqrt(var_batch + ε),   out = γ·ĥ + β

It also tracks μ and σ² by an exponential moving average, used in eval mode.
The lecture writes ``μ := α·mean_batch + (1 − α)·μ``. **PyTorch's convention**
(``nn.BatchNorm1d(momentum=α)``, default 0.1) is the same formula with
``momentum`` playing α::

    running_mean = (1 − momentum)·running_mean + momentum·mean_batch
    running_var  = (1 − momentum)·running_var  + momentum·var_batch_unbiased

Two details people trip over: ``momentum`` is the weight of the *new* batch
(the opposite of an optimiser's momentum / Keras' BN momentum = 1 − α), and the
running variance uses the *unbiased* batch variance (divide by B − 1) while the
normalisation itself uses the biased one (divide by B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

MOMENTUM_CONVENTION = (
    "PyTorch: running = (1 − momentum)·running + momentum·batch, with momentum = α (default 0.1); "
    "running_var uses the unbiased batch variance (÷(B−1)), the normalisation the biased one (÷B)."
)


def batch_stats(h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-unit statistics of a batch ``h`` (B, C): ``(mean, var_biased, var_unbiased)``, each (C,)."""
    mean = h.mean(dim=0)
    var = h.var(dim=0, unbiased=False)
    n = h.shape[0]
    return mean, var, var * n / max(n - 1, 1)


def update_running_stats(
    running_mean: Tensor, running_var: Tensor, h: Tensor, momentum: float = 0.1
) -> tuple[Tensor, Tensor]:
    """One moving-average step of BN's running statistics, PyTorch's convention (see module doc).

    ``running_mean``, ``running_var`` (C,), ``h`` (B, C) → new ``(running_mean, running_var)``.
    """
    mean, _, var_unbiased = batch_stats(h)
    new_mean = (1.0 - momentum) * running_mean + momentum * mean
    new_var = (1.0 - momentum) * running_var + momentum * var_unbiased
    return new_mean, new_var


def batch_norm(
    h: Tensor,
    gamma: Tensor,
    beta: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    *,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[Tensor, Tensor, Tensor]:
    """BatchNorm1d by hand: ``h`` (B, C) → ``(out (B, C), running_mean, running_var)``.

    Training mode normalises with the batch's biased variance and returns
    updated running statistics; eval mode normalises with the running ones and
    returns them unchanged.
    """
    if training:
        mean, var, _ = batch_stats(h)
        running_mean, running_var = update_running_stats(running_mean, running_var, h.detach(), momentum)
    else:
        mean, var = running_mean, running_var
    h_hat = (h - mean) / torch.sqrt(var + eps)
    return gamma * h_hat + beta, running_mean, running_var


def running_average(batch_values: np.ndarray, momentum: float, initial: float | np.ndarray) -> np.ndarray:
    """Replay the moving average over recorded batch statistics.

    ``batch_values`` (T, K): one batch statistic per step and unit → running
    values (T, K) *after* each step, starting from ``initial`` (0 for the mean,
    1 for the variance in PyTorch).
    """
    batch_values = np.asarray(batch_values, dtype=np.float64)
    out = np.empty_like(batch_values)
    running = np.broadcast_to(np.asarray(initial, dtype=np.float64), batch_values.shape[1:]).copy()
    for t, value in enumerate(batch_values):
        running = (1.0 - momentum) * running + momentum * value
        out[t] = running
    return out


# --- the formula on numbers -------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkedExample:
    """BN on one unit of one mini-batch, step by step (training mode)."""

    x: np.ndarray  # (B,) the unit's values over the batch, before BN
    mean: float  # μ_B
    var: float  # σ²_B, the *biased* variance (÷B): what the batch is normalised with
    var_unbiased: float  # ÷(B − 1): what running_var is updated with
    x_hat: np.ndarray  # (B,) (x − μ_B) / √(σ²_B + ε)
    y: np.ndarray  # (B,) γ·x̂ + β
    gamma: float
    beta: float
    eps: float


def worked_example(
    batch_size: int = 6, *, gamma: float = 1.5, beta: float = 0.5, eps: float = 1e-5, seed: int = 0
) -> WorkedExample:
    """A small batch of one unit (seeded, one decimal) pushed through the BN formula written out (float32)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.round((torch.randn(batch_size, generator=g) * 3 + 2) * 10) / 10
    mean, var, var_unbiased = batch_stats(x[:, None])
    x_hat = (x - mean) / torch.sqrt(var + eps)
    y = gamma * x_hat + beta
    return WorkedExample(
        x.numpy(), float(mean), float(var), float(var_unbiased), x_hat.numpy(), y.numpy(), gamma, beta, eps
    )


# --- the other normalisers of the lab, by hand --------------------------------------------------------


def layer_norm(h: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Layer norm by hand: ``h`` (B, C) → (B, C), each *sample* normalised over its own C units.

    ``y = γ·(h − μ)/√(σ² + ε) + β`` with μ, σ² (biased) taken per row: no
    batch statistics, so train and eval mode compute the same thing.
    """
    mean = h.mean(dim=1, keepdim=True)
    var = h.var(dim=1, unbiased=False, keepdim=True)
    return gamma * (h - mean) / torch.sqrt(var + eps) + beta


def weight_norm_weight(g: Tensor, v: Tensor) -> Tensor:
    """Weight norm by hand: ``w = g · v/‖v‖`` per output unit (row of ``v`` (out, in…), ``g`` (out, 1…)).

    The length g and the direction v are learned separately (Salimans & Kingma 2016).
    """
    norm = v.flatten(1).norm(dim=1).reshape(g.shape)
    return g * v / norm


# --- "the bias before BN no longer needs training" -------------------------------------------------


@dataclass
class BiasExperiment:
    """Two copies of Linear → BN → activation → Linear, one with the first Linear's bias, one without."""

    steps: list[int]  # optimisation step of each recorded value
    loss_with_bias: list[float]  # training loss of the model whose first Linear has a bias
    loss_without_bias: list[float]  # same weights, same batches, no bias
    bias_grad_norm: list[float]  # ‖∂L/∂b‖ of that bias at each step (≈ 0: BN subtracts any constant)
    weight_grad_norm: list[float]  # ‖∂L/∂W‖ of the same layer, for scale
    max_logit_gap: float  # max |logits_with − logits_without| on the validation set after training (batch statistics)
    eval_logit_gap: float  # the same in eval mode: the running mean absorbs b up to b·(1 − momentum)^steps


def bias_before_bn(
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    *,
    width: int = 64,
    num_classes: int = 10,
    num_steps: int = 150,
    batch_size: int = 32,
    lr: float = 0.1,
    seed: int = 0,
    device: str = "cpu",
) -> BiasExperiment:
    """Train the same network with and without the bias before BN (plain SGD, same batches).

    ``X`` (N, D) float32, ``y`` (N,) int64, ``X_val`` (M, D). Because BN subtracts
    the batch mean, adding a constant b to every sample cancels exactly: the
    loss does not depend on b, its gradient is 0 up to rounding, and the two
    models compute the same function. In eval mode too, once the running mean
    has absorbed b (it starts at 0, so a residual b·(1 − momentum)^steps is left).
    """
    g = torch.Generator().manual_seed(seed)  # private: concurrent sessions must not share the global RNG
    with_bias = nn.Sequential(
        nn.Linear(X.shape[1], width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, num_classes)
    )
    without = nn.Sequential(
        nn.Linear(X.shape[1], width, bias=False), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, num_classes)
    )
    with torch.no_grad():
        for layer in (with_bias[0], with_bias[3]):  # PyTorch's default bound 1/√fan_in, from our generator
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=g)
            layer.bias.uniform_(-bound, bound, generator=g)
        with_bias[0].bias.uniform_(-1.0, 1.0, generator=g)  # a clearly non-zero bias, to show it changes nothing
        without[0].weight.copy_(with_bias[0].weight)
        without[3].load_state_dict(with_bias[3].state_dict())
    with_bias, without = with_bias.to(device), without.to(device)
    opts = [torch.optim.SGD(m.parameters(), lr=lr) for m in (with_bias, without)]
    X_t = torch.as_tensor(X, device=device)
    y_t = torch.as_tensor(y, device=device)
    g = torch.Generator().manual_seed(seed + 1)  # batch order
    result = BiasExperiment([], [], [], [], [], 0.0, 0.0)
    n = len(X_t)
    order = torch.randperm(n, generator=g)
    pos = 0
    for step in range(1, num_steps + 1):
        if pos + batch_size > n:
            order, pos = torch.randperm(n, generator=g), 0
        idx = order[pos : pos + batch_size].to(device)
        pos += batch_size
        losses = []
        for model, opt in zip((with_bias, without), opts, strict=True):
            opt.zero_grad()
            loss = F.cross_entropy(model(X_t[idx]), y_t[idx])
            loss.backward()
            losses.append(loss.detach())
        result.steps.append(step)
        result.loss_with_bias.append(float(losses[0]))
        result.loss_without_bias.append(float(losses[1]))
        result.bias_grad_norm.append(float(with_bias[0].bias.grad.norm()))
        result.weight_grad_norm.append(float(with_bias[0].weight.grad.norm()))
        for opt in opts:
            opt.step()
    with torch.no_grad():
        X_v = torch.as_tensor(X_val, device=device)
        result.max_logit_gap = float((with_bias(X_v) - without(X_v)).abs().max())  # train mode: batch stats
        with_bias.eval()
        without.eval()
        result.eval_logit_gap = float((with_bias(X_v) - without(X_v)).abs().max())
    return result
