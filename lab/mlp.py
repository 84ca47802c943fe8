"""A multilayer perceptron on 2D data: TensorFlow Playground, in PyTorch.

The lecture's points, each one a function here:

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

:class:`Trainer` holds one student's run (model, optimiser, data on the device,
history) and trains it epoch by epoch through :func:`lab.training.run_steps`, so
the page gets progress callbacks, NaN detection and snapshots. Seeded CPU runs
are bit-identical: initialisation and shuffling use private generators.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lab import data2d
from lab.device import single_thread
from lab.init import init_network
from lab.params import Param
from lab.training import History, Progress, run_steps

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


# --- configuration ------------------------------------------------------------------

OPTIMIZERS = ("sgd", "momentum", "adam")
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
SCHEDULES = ("constant", "step", "exponential", "cosine")
SCHEDULE_LABELS = {
    "constant": "constant",
    "step": "step: ÷2 every 100 epochs",
    "exponential": "exponential: ×0.99 per epoch",
    "cosine": "cosine to 0 over the epochs",
}
LOSSES = ("ce", "mse")
LOSS_LABELS = {"ce": "cross-entropy", "mse": "squared error (MSE)"}
DATASET_CHOICES = ("circles", "xor", "gaussian", "spiral", "moons", "blobs", "plane", "multi_gaussian")


@dataclass(frozen=True)
class DataConfig:
    """Which points to learn from."""

    dataset: str = "circles"  # a lab.data2d dataset name
    n: int = 300  # number of points (train + test)
    noise: float = 0.05  # Gaussian jitter, data units
    train_fraction: float = 0.5  # share of points used for training
    num_classes: int = 2  # spiral arms / blobs (others are binary)
    seed: int = 0  # data generation and the train/test split


@dataclass(frozen=True)
class NetConfig:
    """The network's shape and starting point."""

    features: tuple[str, ...] = ("x1", "x2")  # input features (keys of FEATURES)
    hidden: tuple[int, ...] = (4, 2)  # neurons per hidden layer (empty: logistic regression)
    activations: tuple[str, ...] = ("tanh", "tanh")  # activation of each hidden layer
    init: str = "xavier"  # a lab.init scheme
    sigma: float = 0.01  # std of the "normal" init
    constant: float = 0.1  # value of the "constant" init


@dataclass(frozen=True)
class TrainConfig:
    """How the network learns."""

    loss: str = "ce"  # "ce" (cross-entropy) or "mse"; regression always uses MSE
    optimizer: str = "sgd"  # sgd / momentum / adam
    lr: float = 0.03  # learning rate α
    momentum: float = 0.9  # β for "momentum"
    schedule: str = "constant"  # learning-rate schedule, stepped once per epoch
    num_epochs: int = 200  # epochs per "Train" click (and the cosine schedule's length)
    l1: float = 0.0  # L1 rate: adds l1·Σ|w| (weights, not biases)
    l2: float = 0.0  # L2 rate: adds l2·Σw²
    batch_size: int = 10  # points per gradient step


DATA_SPECS = (
    Param("dataset", "Dataset", "circles", kind="choice", options=DATASET_CHOICES, labels=data2d.LABELS),
    Param(
        "num_classes",
        "Classes (spiral arms / blobs)",
        2,
        kind="int",
        lo=2,
        hi=6,
        help="More than 2 classes: a softmax output with one unit (and one map) per class.",
    ),
    Param(
        "noise", "Noise", 0.05, kind="float", lo=0.0, hi=0.5, step=0.01, help="Std of the jitter added to each point."
    ),
    Param(
        "train_fraction",
        "Training share",
        0.5,
        kind="float",
        lo=0.1,
        hi=0.9,
        step=0.1,
        help="Share of the points the network learns from; the rest (hollow markers) only measure it.",
    ),
    Param("n", "Points", 300, kind="int", lo=50, hi=2000, step=50, help="Points generated (train + test)."),
)
FEATURE_SPECS = (
    Param(
        "features",
        "Input features",
        ("x1", "x2"),
        kind="multi",
        options=tuple(FEATURES),
        labels=FEATURE_LABELS,
        help="Playground's hand-made inputs. With X₁, X₂ only, the hidden layers must learn the rest.",
    ),
    Param("layers", "Hidden layers", 2, kind="int", lo=0, hi=6, help="0 hidden layers = logistic regression."),
)


def layer_specs(i: int) -> tuple[Param, Param]:
    """Width and activation specs of hidden layer ``i`` (1-based)."""
    default_width = (4, 2, 4, 4, 4, 4)[i - 1]
    return (
        Param(
            f"w{i}", f"Layer {i} neurons", default_width, kind="int", lo=1, hi=32, help="Units in this hidden layer."
        ),
        Param(
            f"a{i}",
            f"Layer {i} activation",
            "tanh",
            kind="choice",
            options=tuple(ACTIVATIONS),
            labels=ACTIVATION_LABELS,
            help="The nonlinearity after this layer. Identity everywhere = the layers collapse into one linear map.",
        ),
    )


TRAIN_SPECS = (
    Param(
        "lr",
        "Learning rate α",
        0.03,
        kind="log",
        lo=1e-5,
        hi=10.0,
        help="Step size of θ ← θ − α ∂L/∂θ. Too high diverges.",
    ),
    Param(
        "optimizer",
        "Optimiser",
        "sgd",
        kind="choice",
        options=OPTIMIZERS,
        labels=OPTIMIZER_LABELS,
        help="SGD: plain steps. Momentum (β = 0.9): steps keep part of their previous direction. Adam: per-weight "
        "step sizes from running gradient statistics.",
    ),
    Param(
        "schedule",
        "LR schedule",
        "constant",
        kind="choice",
        options=SCHEDULES,
        labels=SCHEDULE_LABELS,
        help="How α changes from epoch to epoch (stepped once per epoch).",
    ),
    Param("loss", "Loss", "ce", kind="choice", options=LOSSES, labels=LOSS_LABELS, help="Regression always uses MSE."),
    Param(
        "batch_size",
        "Batch size",
        10,
        kind="int",
        lo=1,
        hi=128,
        help="Points per gradient step; an epoch is one pass over the training set.",
    ),
    Param("num_epochs", "Epochs per Train click", 200, kind="int", lo=10, hi=5000, step=10),
    Param(
        "l1",
        "L1 rate",
        0.0,
        kind="float",
        lo=0.0,
        hi=0.1,
        step=0.001,
        help="Adds l1·Σ|w|: pushes weights to exactly 0.",
    ),
    Param("l2", "L2 rate", 0.0, kind="float", lo=0.0, hi=0.1, step=0.001, help="Adds l2·Σw²: keeps weights small."),
)


def make_data(cfg: DataConfig) -> data2d.Dataset2D:
    """Generate (seeded) and split the dataset of ``cfg``."""
    return data2d.make_dataset(cfg.dataset, cfg.n, cfg.noise, cfg.train_fraction, cfg.seed, cfg.num_classes)


# --- training -------------------------------------------------------------------------


@dataclass
class Snapshot:
    """The weights at one epoch (CPU copies), for replaying training."""

    epoch: int
    state: dict[str, torch.Tensor]


@dataclass
class Trainer:
    """One student's run: data on the device, model, optimiser, and everything recorded so far.

    Build with :meth:`create`; train with :meth:`train`. ``history`` (a
    :class:`lab.training.History`) holds one value per epoch for ``loss``,
    ``test_loss``, ``lr`` and, for classification, ``accuracy`` / ``test_accuracy``;
    ``history.snapshots`` holds ``(epoch, symmetry_gaps)``; ``replay`` keeps
    weight copies (thinned to at most ``max_replay``).
    """

    data: data2d.Dataset2D
    net: NetConfig
    cfg: TrainConfig
    seed: int
    device: str
    model: nn.Sequential
    X_train: torch.Tensor  # (n_train, F) features on the device
    y_train: torch.Tensor  # (n_train,)
    X_test: torch.Tensor
    y_test: torch.Tensor
    shuffle: torch.Generator  # CPU generator for minibatch order
    history: History = field(default_factory=History)
    replay: list[Snapshot] = field(default_factory=list)
    max_replay: int = 120
    optimizer: torch.optim.Optimizer | None = None
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    initial: dict[str, float] = field(default_factory=dict)  # metrics at epoch 0
    edited: bool = False  # a weight was set by hand (the code snippet no longer reproduces the run)

    # construction -------------------------------------------------------------
    @classmethod
    def create(
        cls, data: data2d.Dataset2D, net: NetConfig, cfg: TrainConfig, *, seed: int = 0, device: str = "cpu"
    ) -> Trainer:
        """A fresh network at epoch 0 (initialised on the CPU with ``seed``, then moved to ``device``)."""
        out = data.num_classes if data.task == "classification" and data.num_classes > 2 else 1
        model = build_mlp(len(net.features), net.hidden, net.activations, out)
        init_network(model, net.init, seed=seed, sigma=net.sigma, constant=net.constant, activations=net.activations)
        model.to(device)

        def prep(X: np.ndarray) -> torch.Tensor:
            return features(torch.as_tensor(X, dtype=torch.float32), net.features).to(device)

        trainer = cls(
            data=data,
            net=net,
            cfg=cfg,
            seed=seed,
            device=device,
            model=model,
            X_train=prep(data.X_train),
            y_train=torch.as_tensor(data.y_train).to(device),
            X_test=prep(data.X_test),
            y_test=torch.as_tensor(data.y_test).to(device),
            shuffle=torch.Generator().manual_seed(seed + 1),
        )
        trainer.configure(cfg)
        trainer.initial = {k: float(v) for k, v in trainer.evaluate().items()}
        trainer.history.snapshots.append((0, symmetry_gaps(model)))
        trainer.replay.append(Snapshot(0, trainer.state_cpu()))
        trainer.history.status = "new"
        return trainer

    def configure(self, cfg: TrainConfig) -> None:
        """(Re)build the optimiser and schedule for ``cfg``, keeping the weights (optimiser state restarts)."""
        self.cfg = cfg
        params = self.model.parameters()
        if cfg.optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=cfg.lr)
        else:
            self.optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum if cfg.optimizer == "momentum" else 0.0
            )
        sched = torch.optim.lr_scheduler
        if cfg.schedule == "step":
            self.scheduler = sched.StepLR(self.optimizer, step_size=100, gamma=0.5)
        elif cfg.schedule == "exponential":
            self.scheduler = sched.ExponentialLR(self.optimizer, gamma=0.99)
        elif cfg.schedule == "cosine":
            self.scheduler = sched.CosineAnnealingLR(self.optimizer, T_max=max(1, cfg.num_epochs))
        else:
            self.scheduler = None

    def update(self, cfg: TrainConfig) -> bool:
        """Take new training settings mid-run, keeping the weights (as Playground does).

        The optimiser (and its state: momentum, Adam moments) is rebuilt only when
        its own settings change; batch size, loss, L1/L2 and epochs per click take
        effect without touching it. Returns True when the optimiser was rebuilt.
        """

        def optimiser_part(c: TrainConfig) -> tuple:
            return (c.optimizer, c.lr, c.momentum, c.schedule, c.num_epochs if c.schedule == "cosine" else 0)

        rebuild = optimiser_part(cfg) != optimiser_part(self.cfg)
        if rebuild:
            self.configure(cfg)
        else:
            self.cfg = cfg
        return rebuild

    # properties ---------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.history.completed_steps

    @property
    def task(self) -> str:
        return self.data.task

    @property
    def num_outputs(self) -> int:
        return linear_layers(self.model)[-1].out_features

    @property
    def loss_name(self) -> str:
        """ "regression", "ce" or "mse" — what :meth:`loss` computes."""
        return "regression" if self.task == "regression" else self.cfg.loss

    def state_cpu(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    # maths ----------------------------------------------------------------------
    def data_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The data term of the loss (mean over the batch); logits (N, out), y (N,)."""
        return data_loss(logits, y, self.loss_name)

    def penalty(self) -> torch.Tensor | float:
        """l1·Σ|w| + l2·Σw² over the weights (biases are not penalised, as in Playground)."""
        if not (self.cfg.l1 or self.cfg.l2):
            return 0.0
        l1, l2 = self.cfg.l1, self.cfg.l2
        # Written exactly as in the code snippet, so both give bit-identical runs.
        return sum(l1 * layer.weight.abs().sum() + l2 * (layer.weight**2).sum() for layer in linear_layers(self.model))

    @torch.no_grad()
    def evaluate(self) -> dict[str, torch.Tensor]:
        """Loss (and accuracy) on the whole train and test sets, as 0-d tensors."""
        out = {}
        for prefix, X, y in (("", self.X_train, self.y_train), ("test_", self.X_test, self.y_test)):
            logits = self.model(X)
            out[f"{prefix}loss"] = self.data_loss(logits, y)
            if self.task == "classification":
                out[f"{prefix}accuracy"] = (predict_classes(logits) == y).float().mean()
        return out

    def train_epoch(self, epoch: int = 0) -> dict[str, torch.Tensor | float]:
        """One pass over the training set in shuffled minibatches, then a schedule step and evaluation."""
        self.model.train()
        n = len(self.X_train)
        order = torch.randperm(n, generator=self.shuffle).to(self.device)
        bs = max(1, self.cfg.batch_size)
        lr = self.optimizer.param_groups[0]["lr"]
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            loss = self.data_loss(self.model(self.X_train[idx]), self.y_train[idx]) + self.penalty()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        metrics: dict[str, torch.Tensor | float] = dict(self.evaluate())
        metrics["lr"] = lr
        return metrics

    def _snapshot(self, epoch: int) -> list[float]:
        if self.replay and epoch - self.replay[-1].epoch >= self._replay_every():
            self.replay.append(Snapshot(epoch, self.state_cpu()))
            if len(self.replay) > self.max_replay:  # thin: keep every other one (and the start)
                self.replay[:] = self.replay[::2]
        return symmetry_gaps(self.model)

    def _replay_every(self) -> int:
        if len(self.replay) < 2:
            return 1
        return max(1, self.replay[-1].epoch - self.replay[-2].epoch)

    def train(
        self,
        num_epochs: int,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        progress_seconds: float = 0.25,
    ) -> History:
        """Train ``num_epochs`` more epochs (continuing the history); stops cleanly on NaN/inf loss."""
        if self.history.status == "diverged":
            return self.history
        with small_model_threads(self.model, self.device):
            self._run(num_epochs, on_progress, should_stop, progress_seconds)
        if self.history.status == "finished" and not self._params_finite():
            self.history.status = "diverged"
            self.history.reason = (
                "The weights became NaN or infinite: the learning rate is too high. Lower it and reset."
            )
        return self.history

    def _run(self, num_epochs, on_progress, should_stop, progress_seconds) -> None:
        run_steps(
            self.train_epoch,
            num_epochs,
            on_progress=on_progress,
            progress_every=max(1, num_epochs),
            progress_seconds=progress_seconds,
            snapshot_fn=self._snapshot,
            snapshot_every=1,
            should_stop=should_stop,
            start_step=self.epoch,
            history=self.history,
        )
        if self.history.status == "finished" and not self._params_finite():
            self.history.status = "diverged"
            self.history.reason = (
                "The weights became NaN or infinite: the learning rate is too high. Lower it and reset."
            )
        return self.history

    def diagnosis(self) -> str:
        """A sentence for the student when training went wrong ("" when it looks fine).

        NaN/inf (from the training loop) is divergence; so is a finite loss that
        ends well above where it started or spiked to over 3× its start: the
        steps overshoot.
        """
        if self.history.status == "diverged":
            return self.history.reason
        start, now = self.initial.get("loss", math.nan), self.history.last("loss")
        peak = max(self.history.metrics.get("loss", [math.nan]))
        if not (self.epoch and math.isfinite(start)):
            return ""
        if now > 1.5 * start + 1e-3 or peak > 3 * start:
            return (
                f"Training is diverging: the training loss jumped *up* to {peak:.3g} (it started at {start:.3g}"
                f" and is {now:.3g} now). The learning rate α = {self.cfg.lr:g} is too high — each step overshoots "
                "the minimum. Lower it (try 10× smaller) and reset."
            )
        return ""

    def _params_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    # pictures' data ---------------------------------------------------------------
    @torch.no_grad()
    def grid_outputs(self, resolution: int = 60, state: dict | None = None) -> GridOutputs:
        """Every neuron and the output evaluated on a grid over the data (CPU numpy)."""
        bounds = self.data.bounds()
        xs, ys, pts = data2d.grid(bounds, resolution)
        P = torch.as_tensor(pts)
        model = self.model
        if state is not None:
            model = build_mlp(len(self.net.features), self.net.hidden, self.net.activations, self.num_outputs)
            model.load_state_dict(state)
        model.eval()
        dev = next(model.parameters()).device
        inputs = features(P, self.net.features)
        outs = layer_outputs(model, inputs.to(dev))
        R = resolution
        maps = [o.T.reshape(o.shape[1], R, R).cpu().numpy() for o in outs]
        logits = outs[-1]
        return GridOutputs(
            xs=xs,
            ys=ys,
            inputs=inputs.T.reshape(-1, R, R).numpy(),
            hidden=maps[:-1],
            output=output_map(logits, self.task).T.reshape(-1, R, R).cpu().numpy(),
        )

    @torch.no_grad()
    def collapse(self) -> Collapse:
        """The equivalent single layer (w′, b′) and its largest disagreement with the network."""
        W, b = collapse_linear(self.model)
        bounds = self.data.bounds()
        pts = np.concatenate([self.data.X, data2d.grid(bounds, 40)[2]])
        inputs = features(torch.as_tensor(pts), self.net.features)
        logits_net = self.model(inputs.to(self.device)).double().cpu()
        logits_one = inputs.double() @ W.T + b
        return Collapse(W.numpy(), b.numpy(), float((logits_net - logits_one).abs().max()), is_linear(self.model))

    @torch.no_grad()
    def set_weight(self, layer: int, to: int, source: int, value: float) -> float:
        """Set one weight by hand (Playground's "click a link"): linear layer ``layer`` (0-based),
        ``W[to, source] = value``. Returns the old value. The run is marked as edited."""
        W = linear_layers(self.model)[layer].weight
        old = float(W[to, source])
        W[to, source] = value
        self.edited = True
        return old

    def state_dict_bytes(self) -> bytes:
        """``torch.save(model.state_dict())`` as bytes (CPU tensors), for a download button."""
        buffer = io.BytesIO()
        torch.save(self.state_cpu(), buffer)
        return buffer.getvalue()


@dataclass(frozen=True)
class GridOutputs:
    """What the network computes over a grid of the plane (for heatmaps)."""

    xs: np.ndarray  # (R,) grid x coordinates
    ys: np.ndarray  # (R,) grid y coordinates
    inputs: np.ndarray  # (F, R, R) each input feature
    hidden: list[np.ndarray]  # per hidden layer (width, R, R) activations
    output: np.ndarray  # (K, R, R) class probabilities (K=1: P(y=1)), or (1, R, R) regression prediction


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


# --- backprop check -------------------------------------------------------------------


@dataclass(frozen=True)
class GradientCheck:
    """Backprop by hand vs autograd for one parameter tensor."""

    name: str  # e.g. "layer 1 weight W (4×2)"
    max_abs_diff: float  # max |by hand − autograd|
    max_abs_grad: float  # max |autograd|, for scale


def gradient_check(trainer: Trainer) -> list[GradientCheck] | None:
    """Compare :func:`manual_gradients` with autograd at the current weights on the training set.

    Uses the data loss without L1/L2. Returns None for MSE on probabilities
    (the by-hand version covers cross-entropy and regression).
    """
    if trainer.loss_name == "mse":
        return None
    model = trainer.model
    X, y = trainer.X_train, trainer.y_train
    model.zero_grad(set_to_none=True)
    trainer.data_loss(model(X), y).backward()
    by_hand = manual_gradients(model, X, y, "regression" if trainer.task == "regression" else "ce")
    checks = []
    for layer_no, (layer, (dW, db)) in enumerate(zip(linear_layers(model), by_hand, strict=True), start=1):
        label = "output layer" if layer_no == len(by_hand) else f"layer {layer_no}"
        for name, mine, ref in (("weight W", dW, layer.weight.grad), ("bias b", db, layer.bias.grad)):
            shape = "×".join(str(s) for s in ref.shape)
            checks.append(
                GradientCheck(f"{label} {name} ({shape})", float((mine - ref).abs().max()), float(ref.abs().max()))
            )
    model.zero_grad(set_to_none=True)
    return checks


# --- show me the code -----------------------------------------------------------------

SNIPPET = """
import torch
import torch.nn.functional as F
from torch import nn
from lab.data2d import {data_import}  # the lab's seeded 2D toy data (numpy)

{data_line}


def features(X):  # points (N, 2) -> input features (N, {num_features})
    return torch.stack([{feature_exprs}], dim=1)


X_train, y_train = features(torch.as_tensor(data.X_train)), torch.as_tensor(data.y_train)
X_test, y_test = features(torch.as_tensor(data.X_test)), torch.as_tensor(data.y_test)

model = nn.Sequential({layers})
g = torch.Generator().manual_seed({seed})  # initialisation
with torch.no_grad():
    for layer, gain in zip([m for m in model if isinstance(m, nn.Linear)], {gains}):
        {init_weight}
        nn.init.constant_(layer.bias, {bias_value})

optimizer = {optimizer}
scheduler = {scheduler}
shuffle = torch.Generator().manual_seed({seed} + 1)  # minibatch order


def loss_fn(logits, y):
    return {loss_expr}


for epoch in range({num_epochs}):
    order = torch.randperm(len(X_train), generator=shuffle)
    for start in range(0, len(X_train), {batch_size}):
        idx = order[start : start + {batch_size}]
        loss = loss_fn(model(X_train[idx]), y_train[idx]){penalty}
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    {scheduler_step}

with torch.no_grad():
    train_loss = loss_fn(model(X_train), y_train).item()
    test_loss = loss_fn(model(X_test), y_test).item()
print(f"epoch {num_epochs}: train loss {{train_loss:.4f}}, test loss {{test_loss:.4f}}")
"""

_FEATURE_CODE = {
    "x1": "X[:, 0]",
    "x2": "X[:, 1]",
    "x1sq": "X[:, 0] ** 2",
    "x2sq": "X[:, 1] ** 2",
    "x1x2": "X[:, 0] * X[:, 1]",
    "sin1": "torch.sin(math.pi * X[:, 0])",
    "sin2": "torch.sin(math.pi * X[:, 1])",
}
_ACT_CODE = {
    "tanh": "nn.Tanh()",
    "relu": "nn.ReLU()",
    "sigmoid": "nn.Sigmoid()",
    "softplus": "nn.Softplus()",
    "identity": "nn.Identity()",
}
_GAIN_CODE = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "softplus": "relu", "identity": "linear"}


def code_snippet(
    data_cfg: DataConfig | None,
    net: NetConfig,
    cfg: TrainConfig,
    *,
    seed: int,
    num_epochs: int,
    num_outputs: int,
    task: str = "classification",
    csv_name: str = "",
    train_fraction: float = 0.5,
) -> str:
    """Plain PyTorch reproducing ``num_epochs`` epochs of this run from scratch (bit-identical on the CPU).

    ``data_cfg`` None means the data came from an uploaded CSV called ``csv_name``.
    """
    from lab.codegen import code, render_snippet

    if data_cfg is None:
        data_import, data_line = (
            "parse_csv, split",
            f"X, y = parse_csv(open({csv_name!r}, 'rb').read(), max_classes=6)  # your uploaded file\n"
            f"data = split(X, y, train_fraction={train_fraction!r}, seed={seed}, name={csv_name!r})",
        )
    else:
        data_import = "make_dataset"
        data_line = (
            f"data = make_dataset({data_cfg.dataset!r}, n={data_cfg.n}, noise={data_cfg.noise!r}, "
            f"train_fraction={data_cfg.train_fraction!r}, seed={data_cfg.seed}, num_classes={data_cfg.num_classes})"
        )
    width = len(net.features)
    layers = []
    for h, act in zip(net.hidden, net.activations, strict=True):
        layers += [f"nn.Linear({width}, {h})", _ACT_CODE[act]]
        width = h
    layers.append(f"nn.Linear({width}, {num_outputs})")
    acts = [*net.activations, "identity"]
    gains = "[" + ", ".join(f"nn.init.calculate_gain({_GAIN_CODE[a]!r})" for a in acts) + "]"
    init_weight = {
        "zeros": "nn.init.zeros_(layer.weight)  # symmetry: every unit identical",
        "constant": f"nn.init.constant_(layer.weight, {net.constant!r})  # symmetry: every unit identical",
        "normal": f"nn.init.normal_(layer.weight, 0.0, {net.sigma!r}, generator=g)",
        "uniform": "nn.init.uniform_(layer.weight, 0.0, 0.1, generator=g)",
        "xavier": "nn.init.xavier_uniform_(layer.weight, gain=gain, generator=g)",
        "kaiming": "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu', generator=g)",
    }[net.init]
    if cfg.optimizer == "adam":
        optimizer = f"torch.optim.Adam(model.parameters(), lr={cfg.lr!r})"
    else:
        momentum = cfg.momentum if cfg.optimizer == "momentum" else 0.0
        optimizer = f"torch.optim.SGD(model.parameters(), lr={cfg.lr!r}, momentum={momentum!r})"
    scheduler = {
        "constant": "None  # constant learning rate",
        "step": "torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)",
        "exponential": "torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.99)",
        "cosine": f"torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={max(1, cfg.num_epochs)})",
    }[cfg.schedule]
    if task == "regression":
        loss_expr = "F.mse_loss(logits[:, 0], y)"
    elif num_outputs == 1:
        loss_expr = (
            "F.binary_cross_entropy_with_logits(logits[:, 0], y.float())"
            if cfg.loss == "ce"
            else "F.mse_loss(torch.sigmoid(logits[:, 0]), y.float())"
        )
    else:
        loss_expr = (
            "F.cross_entropy(logits, y)"
            if cfg.loss == "ce"
            else f"F.mse_loss(torch.softmax(logits, dim=1), F.one_hot(y, {num_outputs}).float())"
        )
    penalty = ""
    if cfg.l1 or cfg.l2:
        penalty = (
            f" + sum(\n            {cfg.l1!r} * m.weight.abs().sum() + {cfg.l2!r} * (m.weight**2).sum()"
            "\n            for m in model if isinstance(m, nn.Linear)\n        )"
        )
    source = render_snippet(
        SNIPPET,
        data_import=code(data_import),
        data_line=code(data_line),
        num_features=len(net.features),
        feature_exprs=code(", ".join(_FEATURE_CODE[f] for f in net.features)),
        layers=code(", ".join(layers)),
        seed=seed,
        gains=code(gains),
        init_weight=code(init_weight),
        bias_value=net.constant if net.init == "constant" else 0.0,
        optimizer=code(optimizer),
        scheduler=code(scheduler),
        loss_expr=code(loss_expr),
        num_epochs=num_epochs,
        batch_size=max(1, cfg.batch_size),
        penalty=code(penalty),
        scheduler_step=code("scheduler.step()" if cfg.schedule != "constant" else "pass  # no schedule"),
    )
    if "math.pi" in source:
        source = "import math\n" + source
    return source
