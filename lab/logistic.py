"""Logistic regression trained by gradient descent — written by hand, checked by autograd.

The lecture's first slides, in code:

- the model   P(y=1 | x) = σ(w·x + b)                          (:func:`predict_proba`)
- the loss    L = −Σ yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)  (+ λ/2 ‖w‖²)   (:func:`loss`)
- its gradient ∂L/∂w = Σ (pᵢ − yᵢ) xᵢ (+ λw),  ∂L/∂b = Σ (pᵢ − yᵢ)  (:func:`manual_gradient`)
- the update  θ ← θ − α ∂L/∂θ, and its cousins mini-batch SGD, momentum and Adam (:func:`train`).

The slide sums over the N points (``reduction="sum"``, the default here, and
what scikit-learn does); PyTorch's losses default to the *mean*, which divides
the gradient by N (or by the batch size) — the same α then takes N× smaller
steps. Both are offered; every function takes ``reduction=``. Everything is taught twice: the gradient by hand vs autograd
(:func:`check_gradient`), the optimisers by hand vs ``torch.optim`` (the "show
me the code" snippet, which tests execute).

Training records the whole trajectory — weights, bias, gradient and loss at
every step — so a page can scrub through it without retraining, draw it on the
loss landscape (:func:`loss_landscape`) and compare optimisers from one start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from lab import codegen, data2d, features, figures
from lab.params import Param
from lab.training import Progress, run_steps

OPTIMIZERS = ("gd", "sgd", "momentum", "adam")
OPTIMIZER_LABELS = {
    "gd": "Gradient descent (full batch)",
    "sgd": "Mini-batch SGD",
    "momentum": "SGD + momentum",
    "adam": "Adam",
}
REDUCTIONS = ("sum", "mean")
#: L2 strengths offered by the page (0 = no penalty). λ·α > 2 makes gradient descent diverge.
WEIGHT_DECAYS = (0.0, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0)
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
ADAM_EPS = 1e-8

# --- widget specs (the page builds its controls from these) ------------------------------

DATA_SPECS = (
    Param(
        "dataset",
        "Dataset",
        "overlap",
        kind="choice",
        options=tuple(d for d in data2d.CLASSIFICATION),
        labels=data2d.LABELS,
        help="Two classes of points in the plane. Circles, XOR, moons and spiral are not linearly separable.",
    ),
    Param("n", "Number of points", 200, kind="int", lo=20, hi=1000, step=10, help="Train and test together."),
    Param("noise", "Noise", 0.1, lo=0.0, hi=0.5, step=0.01, help="Standard deviation of the jitter added to x."),
    Param(
        "train_fraction", "Train fraction", 0.7, lo=0.1, hi=0.9, step=0.05, help="The rest is held out as test data."
    ),
)
FEATURE_SPECS = (
    Param(
        "features",
        "Hand-made features",
        (),
        kind="multi",
        options=tuple(features.FEATURES),
        labels={k: f.label for k, f in features.FEATURES.items()},
        help="Extra inputs computed from x₁ and x₂. The model stays linear in its weights; the boundary bends.",
    ),
)
TRAIN_SPECS = (
    Param(
        "optimizer",
        "Optimiser",
        "gd",
        kind="choice",
        options=OPTIMIZERS,
        labels=OPTIMIZER_LABELS,
        help="Gradient descent uses every training point per step; the others use mini-batches.",
    ),
    Param(
        "reduction",
        "Loss over the points",
        "sum",
        kind="choice",
        options=REDUCTIONS,
        labels={"sum": "sum Σ (the slide)", "mean": "mean (PyTorch default)"},
        help="The mean divides loss and gradient by the number of points in the batch: α takes N× smaller steps.",
    ),
    Param("lr", "Learning rate α", 0.01, kind="log", lo=1e-4, hi=10.0, help="The step size in θ ← θ − α ∂L/∂θ."),
    Param("num_steps", "Steps", 200, kind="int", lo=1, hi=2000, step=1, help="Number of parameter updates."),
    Param(
        "batch_size",
        "Batch size",
        32,
        kind="int",
        lo=1,
        hi=256,
        help="Points per update for SGD, momentum and Adam (gradient descent always uses all).",
    ),
    Param("momentum", "Momentum β", 0.9, lo=0.0, hi=0.99, step=0.01, help="v ← βv + g; θ ← θ − αv."),
    Param(
        "weight_decay",
        "L2 strength λ",
        0.0,
        kind="choice",
        options=WEIGHT_DECAYS,
        labels={v: f"{v:g}" for v in WEIGHT_DECAYS},
        help="Adds λ/2 ‖w‖² to the loss (the bias is not penalised), as scikit-learn does.",
    ),
)
START_SPECS = (
    Param("w1_0", "Start w₁", 0.0, lo=-8.0, hi=8.0, step=0.5, help="Where the optimiser starts on the landscape."),
    Param("w2_0", "Start w₂", 0.0, lo=-8.0, hi=8.0, step=0.5, help="Where the optimiser starts on the landscape."),
)
VIEW_SPECS = (
    Param(
        "compare",
        "Compare all four optimisers",
        False,
        kind="bool",
        help="Train GD, SGD, momentum and Adam from the same start with the same α and overlay them.",
    ),
)
SPECS = DATA_SPECS + FEATURE_SPECS + TRAIN_SPECS + START_SPECS + VIEW_SPECS


@dataclass(frozen=True)
class TrainConfig:
    """How to train one logistic regression."""

    optimizer: str = "gd"  # one of OPTIMIZERS
    lr: float = 0.01  # α, the learning rate
    reduction: str = "sum"  # "sum" over the batch (the slide) or "mean" (PyTorch's default)
    num_steps: int = 200  # parameter updates
    batch_size: int = 32  # points per update (sgd / momentum / adam); gd uses all
    momentum: float = 0.9  # β of SGD with momentum
    weight_decay: float = 0.0  # λ of the L2 term λ/2 ‖w‖² (bias not penalised)
    w1_0: float = 0.0  # starting weight of x₁ (other weights and the bias start at 0)
    w2_0: float = 0.0  # starting weight of x₂
    seed: int = 0  # seeds the mini-batch order

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}")
        if not (self.lr > 0 and self.num_steps >= 1 and self.batch_size >= 1):
            raise ValueError("lr must be > 0, num_steps and batch_size ≥ 1")


# --- the model, its loss and gradient, taught twice ----------------------------------------


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
    config: TrainConfig = TrainConfig(),
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
    config: TrainConfig = TrainConfig(),
    **kwargs,
) -> Trajectory:
    """:func:`train` on a :class:`lab.data2d.Dataset2D` (its train and test parts)."""
    return train(data.X_train, data.y_train, data.X_test, data.y_test, feature_names, config, **kwargs)


# --- pictures: decision map and loss landscape -------------------------------------------------


def probability_map(
    w: np.ndarray,
    b: float,
    feature_names: Sequence[str],
    bounds: tuple[float, float, float, float],
    resolution: int = 80,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(y=1|x) on a grid over ``bounds``: ``xs`` (R,), ``ys`` (R,), ``prob`` (R, R) with rows along x₂."""
    xs, ys, points = data2d.grid(bounds, resolution)
    Phi = features.expand(torch.from_numpy(points), feature_names)
    with torch.no_grad():
        prob = predict_proba(Phi, torch.as_tensor(w, dtype=Phi.dtype), float(b))
    return xs, ys, prob.reshape(resolution, resolution).numpy()


@dataclass(frozen=True)
class Landscape:
    """The training objective over a grid of (w₁, w₂), everything else held fixed."""

    w1s: np.ndarray  # (R,) grid values of w₁ (x axis)
    w2s: np.ndarray  # (R,) grid values of w₂ (y axis)
    loss: np.ndarray  # (R, R) objective; row i is w₂ = w2s[i], column j is w₁ = w1s[j]
    b: float  # the bias held fixed
    rest: np.ndarray  # (D−2,) the other weights held fixed (hand-made features)

    @property
    def argmin(self) -> tuple[float, float]:
        """(w₁, w₂) of the lowest grid cell."""
        i, j = np.unravel_index(int(np.nanargmin(self.loss)), self.loss.shape)
        return float(self.w1s[j]), float(self.w2s[i])


def loss_landscape(
    X: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    w: np.ndarray,
    b: float,
    window: tuple[float, float, float, float],
    *,
    feature_names: Sequence[str] = (),
    weight_decay: float = 0.0,
    reduction: str = "sum",
    resolution: int = 100,
    device: str = "cpu",
) -> Landscape:
    """The objective for every (w₁, w₂) on a ``resolution``² grid over ``window`` in one tensor op.

    ``X`` are points (N, 2) (features are added here) or ready inputs (N, D) when
    ``feature_names`` is empty and D > 2. ``w`` (D,) supplies the weights held
    fixed (all but the first two), ``b`` the bias. ``window`` is
    (w₁ min, w₁ max, w₂ min, w₂ max). Cost: one (N, 2) @ (2, R²) matmul.
    """
    X = torch.as_tensor(X, dtype=torch.float32)
    Phi = features.expand(X, feature_names) if X.shape[1] == 2 else X
    Phi, y_t = Phi.to(device), torch.as_tensor(y).to(device=device, dtype=Phi.dtype)
    w_t = torch.as_tensor(np.asarray(w), dtype=Phi.dtype, device=device)
    w1s = torch.linspace(window[0], window[1], resolution, device=device)
    w2s = torch.linspace(window[2], window[3], resolution, device=device)
    g2, g1 = torch.meshgrid(w2s, w1s, indexing="ij")  # (R, R): row = w₂, column = w₁
    grid_w = torch.stack([g1.reshape(-1), g2.reshape(-1)])  # (2, R²)
    fixed = Phi[:, 2:] @ w_t[2:] + b  # (N,) what the other weights and the bias add
    logits = Phi[:, :2] @ grid_w + fixed[:, None]  # (N, R²) every point under every grid model
    objective = bce_from_logits(logits, y_t, reduction) + 0.5 * weight_decay * (
        (grid_w**2).sum(0) + (w_t[2:] ** 2).sum()
    )
    return Landscape(
        w1s.cpu().numpy(),
        w2s.cpu().numpy(),
        objective.reshape(resolution, resolution).cpu().numpy(),
        float(b),
        w_t[2:].cpu().numpy(),
    )


def landscape_window(paths: Sequence[np.ndarray], margin: float = 0.3, min_half: float = 1.5) -> tuple[float, ...]:
    """A (w₁ min, w₁ max, w₂ min, w₂ max) window around every path (each (T, 2)), with a margin."""
    points = np.concatenate([np.asarray(p, dtype=np.float64)[:, :2] for p in paths])
    points = points[np.isfinite(points).all(1)]
    if len(points) == 0:
        points = np.zeros((1, 2))
    lo, hi = points.min(0), points.max(0)
    center, half = (lo + hi) / 2, np.maximum((hi - lo) / 2 * (1 + margin), min_half)
    half = np.maximum(half, half.max() / 3)  # keep the aspect within 3:1 so contours stay readable
    return (
        float(center[0] - half[0]),
        float(center[0] + half[0]),
        float(center[1] - half[1]),
        float(center[1] + half[1]),
    )


def landscape_around(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float,
    paths: Sequence[np.ndarray],
    *,
    feature_names: Sequence[str] = (),
    weight_decay: float = 0.0,
    reduction: str = "sum",
    resolution: int = 100,
    device: str = "cpu",
    max_grow: int = 3,
) -> Landscape:
    """:func:`loss_landscape` over a window around ``paths`` (each (T, 2)), grown until the slice's
    minimum is inside it (searched on a coarse 24² grid, at most ``max_grow`` times — on separable
    data the minimum is at infinity)."""
    window = list(landscape_window(paths))
    kwargs = {"feature_names": feature_names, "weight_decay": weight_decay, "reduction": reduction, "device": device}
    for _ in range(max_grow):
        coarse = loss_landscape(X, y, w, b, tuple(window), resolution=24, **kwargs)
        i, j = np.unravel_index(int(np.nanargmin(coarse.loss)), coarse.loss.shape)
        span1, span2 = window[1] - window[0], window[3] - window[2]
        grown = False
        if j == 0 or j == 23:
            window[0 if j == 0 else 1] += -span1 if j == 0 else span1
            grown = True
        if i == 0 or i == 23:
            window[2 if i == 0 else 3] += -span2 if i == 0 else span2
            grown = True
        if not grown:
            break
    return loss_landscape(X, y, w, b, tuple(window), resolution=resolution, **kwargs)


OPTIMIZER_SHORT = {"gd": "GD", "sgd": "SGD", "momentum": "momentum", "adam": "Adam"}
PATH_COLORS = {"gd": "#ffffff", "sgd": "#ff7f0e", "momentum": "#2ca02c", "adam": "#d62728"}


def landscape_figure(
    land: Landscape,
    paths: Mapping[str, np.ndarray],
    *,
    step: int,
    update: np.ndarray | None = None,
    title: str = "Loss landscape over (w₁, w₂)",
    height: int = 460,
) -> go.Figure:
    """Contours of the objective with optimiser paths ``{optimizer: (T+1, 2)}`` and the current point.

    ``update`` (2,) is the next update of the first path's current state, drawn
    as an arrow. Contours are drawn on log(loss) so both the valley and the walls
    show detail; hover shows the loss itself.
    """
    z = np.log10(np.maximum(land.loss, 1e-12))
    fig = go.Figure(
        go.Contour(
            x=land.w1s,
            y=land.w2s,
            z=z,
            customdata=land.loss,
            colorscale=figures.SEQUENTIAL,
            ncontours=28,
            contours={"coloring": "heatmap", "showlines": True},
            line={"width": 0.5, "color": "rgba(255,255,255,0.35)"},
            colorbar={"title": {"text": "log₁₀ loss"}},
            hovertemplate="w₁ %{x:.2f}, w₂ %{y:.2f}<br>loss %{customdata:.4f}<extra></extra>",
            name="loss",
            showlegend=False,
        )
    )
    m1, m2 = land.argmin
    fig.add_trace(
        go.Scatter(
            x=[m1],
            y=[m2],
            mode="markers",
            marker={"symbol": "x", "size": 11, "color": "#00e5ff", "line": {"width": 1}},
            name="slice minimum",
            hovertemplate="slice minimum<br>w₁ %{x:.2f}, w₂ %{y:.2f}<extra></extra>",
        )
    )
    for name, path in paths.items():
        path = np.asarray(path)
        s = min(step, len(path) - 1)
        color = PATH_COLORS.get(name, "#ffffff")
        fig.add_trace(
            go.Scatter(
                x=path[: s + 1, 0],
                y=path[: s + 1, 1],
                mode="lines+markers" if s <= 60 else "lines",
                line={"color": color, "width": 2},
                marker={"size": 4, "color": color},
                name=OPTIMIZER_SHORT.get(name, name),
                hovertemplate=f"{OPTIMIZER_LABELS.get(name, name)}<br>w₁ %{{x:.3f}}, w₂ %{{y:.3f}}<extra></extra>",
            )
        )
        if s < len(path) - 1:  # the rest of the path, faint
            fig.add_trace(
                go.Scatter(
                    x=path[s:, 0],
                    y=path[s:, 1],
                    mode="lines",
                    line={"color": color, "width": 1, "dash": "dot"},
                    opacity=0.5,
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=[path[s, 0]],
                y=[path[s, 1]],
                mode="markers",
                marker={"symbol": "star", "size": 14, "color": color, "line": {"color": "black", "width": 1}},
                showlegend=False,
                hovertemplate=f"step {s}<br>w₁ %{{x:.3f}}, w₂ %{{y:.3f}}<extra></extra>",
            )
        )
    first = next(iter(paths.values()), None)
    if update is not None and first is not None and step < len(first) - 1:
        x0, y0 = float(first[step, 0]), float(first[step, 1])
        fig.add_annotation(
            x=x0 + float(update[0]),
            y=y0 + float(update[1]),
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowwidth=2,
            arrowcolor="#ffeb3b",
            text="",
        )
    fig.update_xaxes(range=[float(land.w1s[0]), float(land.w1s[-1])])
    fig.update_yaxes(range=[float(land.w2s[0]), float(land.w2s[-1])])
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        font=figures.FONT,
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
        # A dark legend box: the gradient-descent path is white and would vanish on a white background.
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "xanchor": "right",
            "x": 1.0,
            "bgcolor": "rgba(40, 40, 60, 0.9)",
            "font": {"color": "white"},
        },
        height=height,
        xaxis_title="w₁ (weight of x₁)",
        yaxis_title="w₂ (weight of x₂)",
    )
    return fig


def curves_figure(
    runs: Mapping[str, Trajectory], metric: str, *, step: int | None = None, title: str = "", log_y: bool = False
) -> go.Figure:
    """Train (solid) and test (dashed) ``metric`` ("loss" or "acc") of one or several runs, with a step marker."""
    series = {}
    dashed = []
    for name, run in runs.items():
        label = OPTIMIZER_SHORT.get(name, name) if len(runs) > 1 else ""
        steps = np.arange(run.num_steps + 1)
        train_name = f"{label} train".strip()
        test_name = f"{label} test".strip()
        series[train_name] = (steps, getattr(run, f"train_{metric}"))
        series[test_name] = (steps, getattr(run, f"test_{metric}"))
        dashed.append(test_name)
    y_title = "binary cross-entropy" if metric == "loss" else "accuracy"
    fig = figures.line_chart(series, title or y_title, y_title=y_title, log_y=log_y, dashed=dashed, height=320)
    if len(runs) > 1:  # colour by optimiser: train and test of one run share a colour; legend below
        fig.update_layout(
            height=400, legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0}
        )
        for i, trace in enumerate(fig.data):
            name = list(runs)[i // 2]
            trace.line.color = PATH_COLORS.get(name) if name != "gd" else "#1f77b4"
    if step is not None:
        fig.add_vline(x=step, line={"color": "grey", "dash": "dot"})
    return fig


# --- "show me the code" ----------------------------------------------------------------

SNIPPET = '''
"""Logistic regression trained with torch.optim and autograd — the same run as the lab."""
import torch
import torch.nn.functional as F
{data_import}

{data_lines}
X = torch.tensor(data.X_train)                          # (N, 2) points
y = torch.tensor(data.y_train, dtype=torch.float32)     # (N,) labels 0/1


def features(X):
    """Hand-made features: the model sees these columns."""
    x1, x2 = X[:, 0], X[:, 1]
    return torch.stack([{feature_list}], dim=1)


Phi = features(X)                                        # (N, D)
w = torch.tensor({w0}, dtype=torch.float32, requires_grad=True)  # one weight per feature
b = torch.zeros((), requires_grad=True)                  # bias
opt = {optimizer}
weight_decay = {weight_decay}                            # λ in λ/2 ‖w‖² (the bias is not penalised)
{batch_setup}
for step in range({num_steps}):
{batch_lines}    logits = Phi[idx] @ w + b if idx is not None else Phi @ w + b
    target = y[idx] if idx is not None else y
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction={reduction}) + weight_decay / 2 * (w**2).sum()
    if not torch.isfinite(loss):
        print(f"diverged at step {{step}}: lower the learning rate")
        break
    opt.zero_grad()
    loss.backward()   # autograd: w.grad = mean((p - y) * x) + λw, b.grad = mean(p - y)
    opt.step()

with torch.no_grad():
    X_test = features(torch.tensor(data.X_test))
    y_test = torch.tensor(data.y_test)
    test_acc = ((X_test @ w + b > 0).long() == y_test).float().mean().item()
print("w =", w.tolist(), "b =", b.item(), "test accuracy =", test_acc)
'''


def snippet(
    config: TrainConfig,
    feature_names: Sequence[str] = (),
    *,
    dataset: str = "overlap",
    n: int = 200,
    noise: float = 0.1,
    train_fraction: float = 0.7,
    csv_name: str | None = None,
) -> str:
    """A runnable plain-PyTorch script (autograd + ``torch.optim``) that reproduces :func:`train`.

    The data come from :mod:`lab.data2d` (generated with the same seed, or the
    uploaded CSV read from ``csv_name``). The script leaves ``w``, ``b`` and
    ``test_acc`` in its namespace (tests compare them with the lab's run).
    """
    cfg = config
    feats = features.used(feature_names)
    if csv_name is None:
        data_import = "from lab.data2d import make_dataset   # the lab's toy data (numpy arrays)"
        data_lines = (
            f"data = make_dataset({dataset!r}, n={n}, noise={noise!r}, train_fraction={train_fraction!r}, "
            f"seed={cfg.seed})"
        )
    else:
        data_import = "from lab.data2d import parse_csv, split   # validates the CSV like the lab does"
        data_lines = (
            f"with open({csv_name!r}, 'rb') as f:\n    X_all, y_all = parse_csv(f.read())\n"
            f"data = split(X_all, y_all, {train_fraction!r}, seed={cfg.seed}, name={csv_name!r})"
        )
    params = "[w, b]"
    if cfg.optimizer in ("gd", "sgd"):
        optimizer = f"torch.optim.SGD({params}, lr={cfg.lr!r})"
    elif cfg.optimizer == "momentum":
        optimizer = f"torch.optim.SGD({params}, lr={cfg.lr!r}, momentum={cfg.momentum!r})"
    else:
        optimizer = f"torch.optim.Adam({params}, lr={cfg.lr!r}, betas={ADAM_BETAS!r}, eps={ADAM_EPS!r})"
    if cfg.optimizer == "gd":
        batch_setup = "idx = None                                 # full batch: every training point, every step"
        batch_lines = ""
    else:
        batch_setup = (
            f"batch_size = {cfg.batch_size}\n"
            f"per_epoch = -(-len(y) // batch_size)                   # batches per pass over the data\n"
            f"g = torch.Generator().manual_seed({cfg.seed})       # the mini-batch order"
        )
        batch_lines = (
            "    if batch_size >= len(y):\n"
            "        idx = None\n"
            "    else:\n"
            "        if step % per_epoch == 0:\n"
            "            order = torch.randperm(len(y), generator=g)\n"
            "        k = step % per_epoch\n"
            "        idx = order[k * batch_size:(k + 1) * batch_size]\n"
        )
    w0 = [float(cfg.w1_0), float(cfg.w2_0)] + [0.0] * (len(feats) - 2)
    return codegen.render_snippet(
        SNIPPET,
        data_import=codegen.code(data_import),
        data_lines=codegen.code(data_lines),
        feature_list=codegen.code(", ".join(f.code for f in feats)),
        w0=w0,
        optimizer=codegen.code(optimizer),
        weight_decay=float(cfg.weight_decay),
        batch_setup=codegen.code(batch_setup),
        batch_lines=codegen.code(batch_lines),
        num_steps=int(cfg.num_steps),
        reduction=cfg.reduction,
    )


# --- words and maths for the page -------------------------------------------------------


def divergence_hint(config: TrainConfig) -> str:
    """Why a run blew up, in a sentence or two (used with ``Trajectory.reason``)."""
    lr, wd = config.lr, config.weight_decay
    if wd > 0 and config.optimizer in ("gd", "sgd") and lr * wd > 2:
        return (
            f"Here the L2 term is the culprit: each step multiplies w by (1 − αλ) = {1 - lr * wd:g}. "
            f"When |1 − αλ| > 1 (αλ = {lr * wd:g} > 2) the weights flip sign and grow every step. "
            "Keep αλ below 2: lower α or λ."
        )
    return (
        "The log-loss gradient is bounded (|pᵢ − yᵢ| ≤ 1), so plain logistic regression rarely overflows; "
        "large inputs or a huge α make the logits overflow. Lower α, or rescale the features."
    )


def oscillation_hint(run: Trajectory) -> str | None:
    """A warning when the training objective went up in many steps (α too large), else None."""
    T = run.num_steps
    ups = run.loss_increases
    if T < 10 or ups < max(3, T // 10):
        return None
    if run.config.optimizer == "gd":
        return (
            f"The training loss went **up** in {ups} of {T} gradient-descent steps: α = {run.config.lr:g} is too "
            "large, so each update overshoots the bottom of the valley and bounces to the other side "
            "(see the zig-zag on the landscape). Try a 10× smaller learning rate."
        )
    return (
        f"The training loss went up in {ups} of {T} steps. With mini-batches that is partly noise (each batch "
        "pulls its own way); if the curve does not settle, α is too large."
    )


def latex_number(x: float, digits: int = 3) -> str:
    """A number for st.latex: 3 significant digits, 1.2 \\times 10^{5} for large/small ones."""
    if not math.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\text{NaN}")
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}"
    return f"{x:.0f}" if abs(x) >= 10**digits else f"{x:.{digits}g}"


def latex_vector(v: Sequence[float]) -> str:
    """A column vector for st.latex."""
    return r"\begin{bmatrix}" + r" \\ ".join(latex_number(float(x)) for x in v) + r"\end{bmatrix}"


def latex_model(w: Sequence[float], b: float, feature_names: Sequence[str] = ()) -> str:
    """P(y=1|x) = σ(w₁x₁ + w₂x₂ + … + b) with the numbers filled in."""
    terms = []
    for weight, feat in zip(w, features.used(feature_names), strict=True):
        sign = "-" if weight < 0 else "+"
        terms.append(f"{sign} {latex_number(abs(float(weight)))}\\,{feat.latex}")
    sign = "-" if b < 0 else "+"
    body = " ".join(terms).lstrip("+ ").strip()
    if body.startswith("- "):
        body = "-" + body[2:]
    return rf"P(y=1 \mid x) = \sigma\!\left({body} {sign} {latex_number(abs(float(b)))}\right)"
