"""The model σ(w·x + b), its loss and gradient taught twice (by hand and by autograd), and training.

Training records the whole trajectory (weights, bias, gradient and loss at
every step) so a page can scrub through it without retraining.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from lab import data2d, features
from lab.logistic.config import ADAM_BETAS, ADAM_EPS, TrainConfig
from lab.training import Progress, run_steps

DEFAULT_CONFIG = TrainConfig()  # frozen: safe as a shared default


def predict_proba(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """P(y=1 | x) = σ(w·x + b) for inputs ``X`` (N, D), weights ``w`` (D,) → (N,)."""
    return torch.sigmoid(X @ w + b)


def bce_from_logits(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy (mean or sum over points) −[y log σ(z) + (1 − y) log(1 − σ(z))], written stably.

    Since log σ(z) = −softplus(−z) and log(1 − σ(z)) = −softplus(z), each term is
    softplus(z) − y·z: no log(0) when σ(z) rounds to 0 or 1. ``logits`` (N, …),
    ``y`` (N,) with 0/1 values; the mean runs over the first dimension.
    """
    y = y.reshape(y.shape + (1,) * (logits.ndim - 1)).to(logits.dtype)
    per_point = F.softplus(logits) - y * logits
    return per_point.sum(0) if reduction == "sum" else per_point.mean(0)


def loss(
    X: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | float,
    weight_decay: float = 0.0,
    reduction: str = "sum",
) -> torch.Tensor:
    """The objective: BCE of σ(Xw + b) against ``y`` (N,), summed or averaged, plus λ/2 ‖w‖² (a scalar)."""
    return bce_from_logits(X @ w + b, y, reduction) + 0.5 * weight_decay * (w * w).sum()


def manual_gradient(
    X: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | float,
    weight_decay: float = 0.0,
    reduction: str = "sum",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient by hand: ∂L/∂w = Σ (pᵢ − yᵢ) xᵢ + λw (D,), ∂L/∂b = Σ (pᵢ − yᵢ) (scalar); "mean" divides Σ by N.

    The derivation in one line: ∂/∂z [softplus(z) − y z] = σ(z) − y = p − y, and
    z = w·x + b, so the chain rule multiplies by x for w and by 1 for b.
    """
    residual = predict_proba(X, w, b) - y.to(X.dtype)  # (N,) pᵢ − yᵢ
    scale = 1.0 / len(y) if reduction == "mean" else 1.0
    return scale * (X.T @ residual) + weight_decay * w, scale * residual.sum()


def autograd_gradient(
    X: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | float,
    weight_decay: float = 0.0,
    reduction: str = "sum",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same gradient from PyTorch's autograd, through ``F.binary_cross_entropy_with_logits``."""
    w = w.detach().clone().requires_grad_(True)
    b = torch.as_tensor(b, dtype=X.dtype, device=X.device).detach().clone().requires_grad_(True)
    bce = F.binary_cross_entropy_with_logits(X @ w + b, y.to(X.dtype), reduction=reduction)
    objective = bce + 0.5 * weight_decay * (w * w).sum()
    grad_w, grad_b = torch.autograd.grad(objective, (w, b))
    return grad_w, grad_b


@dataclass(frozen=True)
class GradientCheck:
    """The hand-written gradient next to autograd's, at one point (w, b)."""

    manual_w: np.ndarray  # (D,)
    manual_b: float
    autograd_w: np.ndarray  # (D,)
    autograd_b: float
    loss: float  # the objective at (w, b)

    @property
    def max_abs_diff(self) -> float:
        return float(max(np.abs(self.manual_w - self.autograd_w).max(), abs(self.manual_b - self.autograd_b)))


def check_gradient(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: float, weight_decay: float = 0.0, reduction: str = "sum"
) -> GradientCheck:
    """Both gradients over all of ``X`` (N, D) at ``w`` (D,), ``b``, in float64 (CPU results)."""
    X, y, w = X.double(), y.double(), torch.as_tensor(w).to(X.device).double()
    b_t = torch.tensor(float(b), dtype=torch.float64, device=X.device)
    gw, gb = manual_gradient(X, y, w, b_t, weight_decay, reduction)
    aw, ab = autograd_gradient(X, y, w, b_t, weight_decay, reduction)
    return GradientCheck(
        gw.cpu().numpy(), float(gb), aw.cpu().numpy(), float(ab), float(loss(X, y, w, b_t, weight_decay, reduction))
    )


def check_gradient_on(
    data: data2d.Dataset2D,
    feature_names: Sequence[str],
    w: np.ndarray,
    b: float,
    weight_decay: float = 0.0,
    reduction: str = "sum",
) -> GradientCheck:
    """:func:`check_gradient` over the training part of ``data`` with its hand-made features."""
    Phi = features.expand(torch.as_tensor(data.X_train), feature_names)  # (N, D)
    return check_gradient(
        Phi, torch.as_tensor(data.y_train), torch.as_tensor(np.asarray(w)), b, weight_decay, reduction
    )


def sklearn_C(weight_decay: float, n_train: int, reduction: str = "sum") -> float:
    """scikit-learn's ``C`` for our λ: its objective is C·Σ logloss + ½‖w‖² (bias not penalised).

    Ours with the sum, Σ logloss + λ/2 ‖w‖², is sklearn's × λ with C = 1/λ; with
    the mean, (1/N) Σ logloss + λ/2 ‖w‖², it is sklearn's × λ with C = 1/(Nλ).
    Multiplying an objective by a positive constant does not move its minimum.
    λ = 0 means C = ∞ (no penalty).
    """
    if weight_decay == 0:
        return math.inf
    return 1.0 / weight_decay if reduction == "sum" else 1.0 / (n_train * weight_decay)


# --- training: the whole trajectory ---------------------------------------------------------


@dataclass
class Trajectory:
    """Everything a training run did, step by step (numpy, CPU).

    State t is the model after t updates (row 0 is the start); update t takes
    state t to state t + 1 using ``grad_w[t]``, ``grad_b[t]``.
    """

    config: TrainConfig
    feature_names: tuple[str, ...]  # the extra features (keys of lab.features.FEATURES)
    w: np.ndarray  # (T+1, D) weights of every state
    b: np.ndarray  # (T+1,) bias of every state
    grad_w: np.ndarray  # (T, D) gradient used by update t (of the mini-batch for SGD/momentum/Adam)
    grad_b: np.ndarray  # (T,)
    batch_loss: np.ndarray  # (T,) objective on the batch of update t
    objective: np.ndarray  # (T+1,) the minimised objective (BCE sum/mean + λ/2‖w‖²), all train points
    train_loss: np.ndarray  # (T+1,) mean BCE on the training set (mean so train and test compare)
    test_loss: np.ndarray  # (T+1,) mean BCE on the test set
    train_acc: np.ndarray  # (T+1,) accuracy on the training set
    test_acc: np.ndarray  # (T+1,)
    status: str = "finished"  # "finished", "diverged" or "cancelled" (see lab.training.History)
    reason: str = ""  # why it stopped early, for the student
    seconds: float = 0.0
    extras: dict = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        """Updates actually recorded (fewer than planned when training diverged)."""
        return len(self.w) - 1

    @property
    def feature_labels(self) -> list[str]:
        return features.labels(self.feature_names)

    @property
    def loss_increases(self) -> int:
        """How many updates made the training objective go *up* (a sign that α is too large)."""
        obj = self.objective
        return int((np.diff(obj) > 1e-4 * np.maximum(1.0, np.abs(obj[:-1]))).sum())

    def update(self, t: int) -> np.ndarray:
        """What update t changed: (w, b) of state t+1 minus state t, shape (D+1,)."""
        return np.append(self.w[t + 1] - self.w[t], self.b[t + 1] - self.b[t])


def _batches(n: int, batch_size: int, seed: int) -> Callable[[int], torch.Tensor | None]:
    """Mini-batch indices for step t: a fresh seeded permutation each epoch (None = all points)."""
    if batch_size >= n:
        return lambda t: None
    per_epoch = -(-n // batch_size)
    gen = torch.Generator().manual_seed(seed)  # CPU generator: the same order on every device
    order: list[torch.Tensor] = []

    def batch(t: int) -> torch.Tensor:
        k = t % per_epoch
        if k == 0:
            order[:] = [torch.randperm(n, generator=gen)]
        return order[0][k * batch_size : (k + 1) * batch_size]

    return batch


def evaluate(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """BCE and accuracy of many models at once: ``X`` (N, D), ``W`` (S, D), ``B`` (S,) → two (S,) tensors."""
    logits = X @ W.T + B  # (N, S): every point under every state, one matmul
    correct = (logits > 0) == (y[:, None] > 0.5)
    return bce_from_logits(logits, y), correct.to(X.dtype).mean(0)


def train(
    X_train: np.ndarray | torch.Tensor,
    y_train: np.ndarray | torch.Tensor,
    X_test: np.ndarray | torch.Tensor,
    y_test: np.ndarray | torch.Tensor,
    feature_names: Sequence[str] = (),
    config: TrainConfig = DEFAULT_CONFIG,
    *,
    device: str = "cpu",
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Trajectory:
    """Train σ(w·φ(x) + b) by hand-written updates and record every step.

    ``X_*`` are points (N, 2), ``y_*`` 0/1 labels (N,); φ adds ``feature_names``
    (:func:`lab.features.expand`). The update rules, with g the gradient of the
    batch objective (:func:`manual_gradient`):

    - gd / sgd:  θ ← θ − α g                     (gd: all points; sgd: a mini-batch)
    - momentum:  v ← β v + g;  θ ← θ − α v        (torch.optim.SGD's form, v₀ = g₀)
    - adam:      m ← β₁m + (1−β₁)g;  s ← β₂s + (1−β₂)g²;  θ ← θ − α m̂ / (√ŝ + ε)

    A NaN/inf loss stops the run cleanly (``status="diverged"`` with a reason)
    and the trajectory keeps only the finite states before it.
    """
    cfg = config
    names = features.check_names(feature_names)
    dtype = torch.float32 if not isinstance(X_train, torch.Tensor) else X_train.dtype
    Phi = features.expand(torch.as_tensor(X_train, dtype=dtype), names).to(device)  # (N, D)
    y = torch.as_tensor(y_train).to(device=device, dtype=dtype)  # (N,)
    Phi_test = features.expand(torch.as_tensor(X_test, dtype=dtype), names).to(device)
    y_test_t = torch.as_tensor(y_test).to(device=device, dtype=dtype)
    n, d = Phi.shape
    T, lr, wd = cfg.num_steps, float(cfg.lr), float(cfg.weight_decay)

    # θ = [w₁ … w_D, b] in one vector; w and b are views into it, so updating θ updates both.
    theta = torch.zeros(d + 1, dtype=dtype, device=device)
    theta[0], theta[1] = cfg.w1_0, cfg.w2_0
    w, b = theta[:d], theta[d]
    TH = torch.empty(T + 1, d + 1, dtype=dtype, device=device)  # every state θ_t
    G = torch.empty(T, d + 1, dtype=dtype, device=device)  # every gradient g_t, written in place
    TH[0] = theta
    m, s = torch.zeros_like(theta), torch.zeros_like(theta)  # momentum velocity / Adam's moments
    batch_size = n if cfg.optimizer == "gd" else cfg.batch_size
    batch = _batches(n, batch_size, cfg.seed)
    beta1, beta2 = ADAM_BETAS
    Phi_T = Phi.T.contiguous()  # (D, N) for the full-batch gradient

    def step(t: int) -> Mapping[str, torch.Tensor]:
        idx = batch(t)
        if idx is None:
            Xb, Xb_T, yb = Phi, Phi_T, y
        else:
            idx = idx.to(device)
            Xb, yb = Phi[idx], y[idx]
            Xb_T = Xb.T
        logits = Xb @ w + b  # (B,)
        residual = torch.sigmoid(logits) - yb  # (B,) pᵢ − yᵢ — the whole gradient in one vector
        g = G[t]  # the gradient is written straight into the history
        torch.matmul(Xb_T, residual, out=g[:d])  # Σ (pᵢ − yᵢ) xᵢ
        torch.sum(residual, 0, out=g[d])  # Σ (pᵢ − yᵢ)
        batch_loss = F.binary_cross_entropy_with_logits(logits, yb, reduction=cfg.reduction)  # NaN check
        if cfg.reduction == "mean":
            g.div_(len(yb))
        if wd:
            g[:d].add_(w, alpha=wd)  # + λw (the bias is not penalised)
            batch_loss = batch_loss + 0.5 * wd * (w @ w)
        if cfg.optimizer in ("gd", "sgd"):
            theta.sub_(g, alpha=lr)  # θ ← θ − α g
        elif cfg.optimizer == "momentum":
            if t == 0:
                m.copy_(g)
            else:
                m.mul_(cfg.momentum).add_(g)  # v ← β v + g
            theta.sub_(m, alpha=lr)  # θ ← θ − α v
        else:  # adam
            m.mul_(beta1).add_(g, alpha=1 - beta1)
            s.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            c1, c2 = 1 - beta1 ** (t + 1), 1 - beta2 ** (t + 1)  # bias corrections
            theta.addcdiv_(m, s.sqrt().div_(math.sqrt(c2)).add_(ADAM_EPS), value=-lr / c1)
        TH[t + 1] = theta
        return {"loss": batch_loss}

    history = run_steps(step, T, on_progress=on_progress, should_stop=should_stop, progress_every=max(1, T // 50))
    done = history.completed_steps
    batch_losses = np.asarray(history.metrics.get("loss", []), dtype=np.float64)
    if history.status == "diverged":
        # The loss at state done−1 was not finite: keep the finite states before it.
        done = max(0, done - 2)
        finite = torch.isfinite(TH[: done + 1]).all(1)
        if not finite.all():
            done = int(finite.long().cumprod(0).sum()) - 1
        done = max(done, 0)
    W, B = TH[: done + 1, :d], TH[: done + 1, d]
    train_loss, train_acc = evaluate(Phi, y, W, B)
    test_loss, test_acc = evaluate(Phi_test, y_test_t, W, B)
    data_term = train_loss * n if cfg.reduction == "sum" else train_loss
    objective = data_term + 0.5 * wd * (W * W).sum(1)

    def cpu(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy()

    return Trajectory(
        config=cfg,
        feature_names=names,
        w=cpu(W),
        b=cpu(B),
        grad_w=cpu(G[:done, :d]),
        grad_b=cpu(G[:done, d]),
        batch_loss=batch_losses[:done],
        objective=cpu(objective),
        train_loss=cpu(train_loss),
        test_loss=cpu(test_loss),
        train_acc=cpu(train_acc),
        test_acc=cpu(test_acc),
        status=history.status,
        reason=history.reason,
        seconds=history.seconds,
    )


def train_dataset(
    data: data2d.Dataset2D,
    feature_names: Sequence[str] = (),
    config: TrainConfig = DEFAULT_CONFIG,
    **kwargs,
) -> Trajectory:
    """:func:`train` on a :class:`lab.data2d.Dataset2D` (its train and test parts)."""
    return train(data.X_train, data.y_train, data.X_test, data.y_test, feature_names, config, **kwargs)
