"""Regularisation and normalisation trained side by side (lab 4).

"Hardcore overfitting": a 2-hidden-layer MLP with 128 units has ~26k weights;
300 digits are not enough to pin them down, so it memorises the training set
(≈100 % train accuracy) while validation accuracy lags — the *generalisation
gap*. This module trains several *configurations* of one network — baseline,
+dropout, +batch norm, +both, +L2, +L1, +layer norm, +weight norm,
+DropConnect — on exactly the same data, from the same initial weights, on the
same mini-batches, and records what the page shows:

- train / validation loss and accuracy per epoch (eval mode, so dropout is off);
- the distribution of every hidden layer's pre-activation (quantiles) per epoch;
- the gradient norm of every layer's weights per epoch;
- for BN configurations, the batch statistics and running statistics of the
  first BN layer at every step.

``compare`` interleaves the runs epoch by epoch (every curve grows together on
the page) through the shared loop ``lab.training.run_steps`` (one step = one
epoch of every run), so progress, cancellation and NaN handling are the
project's.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations

from lab.batchnorm import running_average
from lab.device import single_thread
from lab.digits import DATASETS, Split
from lab.digits import LABELS as DATASET_LABELS
from lab.dropout import DropConnectLinear, Dropout
from lab.figures import CLASS_COLORS, layout
from lab.params import Param
from lab.training import History, Progress, run_steps

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
MODELS = ("mlp", "cnn")
MODEL_LABELS = {"mlp": "MLP (depth × width)", "cnn": "Small CNN (conv 3×3 → pool blocks)"}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
BN_TRACE_UNITS = 8  # units of the first BN layer whose statistics are recorded every step
PROBE_SIZE = 128  # validation samples whose pre-activations are summarised per epoch


# --- configurations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One configuration of the network: which regularisers / normalisers are on."""

    key: str  # short id (URL, CSV)
    label: str  # legend text
    dropout: bool = False  # dropout p after every hidden activation
    batch_norm: bool = False  # BatchNorm1d between each hidden Linear and its activation
    layer_norm: bool = False  # LayerNorm instead (per sample, over units)
    weight_norm: bool = False  # w = g · v/‖v‖ on every Linear (torch.nn.utils.parametrizations.weight_norm)
    dropconnect: bool = False  # drop weights (p) of the hidden Linear layers instead of units
    l2: bool = False  # weight decay λ₂ on Linear weights (the optimiser's weight_decay)
    l1: bool = False  # λ₁ · Σ|w| added to the loss


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant("baseline", "Baseline"),
        Variant("dropout", "+ Dropout", dropout=True),
        Variant("batchnorm", "+ Batch norm", batch_norm=True),
        Variant("bn_dropout", "+ BN + dropout", batch_norm=True, dropout=True),
        Variant("l2", "+ L2 (weight decay)", l2=True),
        Variant("l1", "+ L1", l1=True),
        Variant("layernorm", "+ Layer norm", layer_norm=True),
        Variant("weightnorm", "+ Weight norm", weight_norm=True),
        Variant("dropconnect", "+ DropConnect", dropconnect=True),
    )
}


@dataclass(frozen=True)
class CompareConfig:
    """Everything that defines a side-by-side comparison (the page's widgets)."""

    dataset: str = "digits"  # see lab.digits.DATASETS
    model: str = "mlp"  # "mlp" or "cnn" (images only: digits, MNIST)
    n_train: int = 300  # training subset size: small ⇒ overfitting
    n_val: int = 1000  # held-out validation samples
    depth: int = 2  # hidden layers
    width: int = 128  # units per hidden layer (MLP)
    channels: int = 32  # feature maps per conv block (CNN)
    activation: str = "relu"  # relu / tanh / sigmoid
    optimizer: str = "adam"  # adam / sgd (with momentum 0.9)
    lr: float = 1e-3  # learning rate
    batch_size: int = 32  # mini-batch size
    num_epochs: int = 30  # passes over the training subset
    dropout_p: float = 0.5  # drop probability for dropout and DropConnect
    input_dropout: float = 0.0  # dropout configurations also drop input pixels with this p (Srivastava et al.: 0.2)
    weight_decay: float = 1e-3  # λ₂ of the L2 configuration
    l1: float = 1e-4  # λ₁ of the L1 configuration
    bn_momentum: float = 0.1  # PyTorch's BN momentum = the lecture's α
    variants: tuple[str, ...] = ("baseline", "dropout", "batchnorm", "l2")  # configurations to train
    num_seeds: int = 1  # repeats with seeds seed, seed+1, … (mean ± spread)
    seed: int = 0  # data split, initial weights, batch order, dropout masks


SPECS = (
    Param(
        "dataset",
        "Dataset",
        "digits",
        kind="choice",
        options=DATASETS,
        labels=DATASET_LABELS,
        help="MNIST / Fashion-MNIST are used only when already on disk; nothing is downloaded.",
    ),
    Param(
        "model",
        "Model",
        "mlp",
        kind="choice",
        options=MODELS,
        labels=MODEL_LABELS,
        help="The 2D spiral has no image, so it always uses the MLP.",
    ),
    Param(
        "n_train",
        "Training samples",
        300,
        kind="int",
        lo=50,
        hi=1000,
        step=50,
        help="Few samples + a big network = hardcore overfitting.",
    ),
    Param("depth", "Hidden layers", 2, kind="int", lo=1, hi=8, help="MLP: hidden Linear layers. CNN: conv blocks."),
    Param("width", "Units per hidden layer (MLP)", 128, kind="int", lo=16, hi=512, step=16),
    Param("channels", "Channels per conv block (CNN)", 32, kind="int", lo=4, hi=64, step=4),
    Param(
        "activation",
        "Activation",
        "relu",
        kind="choice",
        options=tuple(ACTIVATIONS),
        labels={"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid σ"},
    ),
    Param(
        "optimizer",
        "Optimiser",
        "adam",
        kind="choice",
        options=("adam", "sgd"),
        labels={"adam": "Adam", "sgd": "SGD + momentum 0.9"},
    ),
    Param("lr", "Learning rate", 1e-3, kind="log", lo=1e-4, hi=1.0),
    Param("batch_size", "Batch size", 32, kind="int", lo=8, hi=256, step=8),
    Param("num_epochs", "Epochs", 30, kind="int", lo=1, hi=200),
    Param(
        "dropout_p",
        "Dropout / DropConnect p",
        0.5,
        kind="float",
        lo=0.0,
        hi=0.9,
        step=0.05,
        help="Probability of dropping a unit (dropout) or a weight (DropConnect) in training.",
    ),
    Param(
        "input_dropout",
        "Input dropout (dropout configurations)",
        0.0,
        kind="float",
        lo=0.0,
        hi=0.5,
        step=0.05,
        help="Dropout configurations also drop this fraction of input pixels (Srivastava et al. 2014 used 0.2).",
    ),
    Param("weight_decay", "L2 weight decay λ₂", 1e-3, kind="log", lo=1e-5, hi=1.0),
    Param("l1", "L1 strength λ₁", 1e-4, kind="log", lo=1e-6, hi=1e-1),
    Param(
        "bn_momentum",
        "BN momentum α",
        0.1,
        kind="float",
        lo=0.01,
        hi=1.0,
        step=0.01,
        help="Weight of the new batch in BN's moving averages (PyTorch's momentum).",
    ),
    Param(
        "variants",
        "Configurations",
        ("baseline", "dropout", "batchnorm", "l2"),
        kind="multi",
        options=tuple(VARIANTS),
        labels={k: v.label for k, v in VARIANTS.items()},
    ),
    Param(
        "num_seeds",
        "Seeds (repeats)",
        1,
        kind="int",
        lo=1,
        hi=5,
        help="Repeat every configuration with several seeds and show mean ± spread.",
    ),
)


# --- presets: one click to a setting that shows something --------------------------------------

#: "Show me overfitting, then fix it with dropout": a wide MLP trained long with Adam on 300 digits
#: memorises them (train 100 %); dropout (p = 0.5 on hidden units, 0.1 on pixels) lowers the validation
#: loss and both gaps. Seeds 0, 1, 2 (500 val): loss gap 0.227/0.236/0.234 → 0.156/0.159/0.169,
#: accuracy gap 6.0/6.2/5.8 → 5.4/5.2/5.2 points, validation accuracy 94.0 → 94.7 % (tests check it);
#: the page's seed 0 with 1000 val: loss gap 0.199 → 0.141.
PRESETS: dict[str, dict[str, object]] = {
    "overfit_dropout": {
        "dataset": "digits",
        "model": "mlp",
        "n_train": 300,
        "depth": 2,
        "width": 256,
        "activation": "relu",
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": 32,
        "num_epochs": 100,
        "dropout_p": 0.5,
        "input_dropout": 0.1,
        "variants": ("baseline", "dropout"),
        "num_seeds": 1,
    },
}


# --- the model ----------------------------------------------------------------------------------


class _Blocks(nn.Module):
    """What :class:`MLP` and :class:`CNN` share: each hidden block ends norm → activation → dropout.

    ``record = True`` keeps every hidden pre-activation (the input of the
    nonlinearity) in ``pre_activations``; ``bn_trace`` (a list with BN) collects
    the first BN layer's batch statistics in training mode.
    """

    norms: nn.ModuleList

    def _block_setup(
        self, activation: str, variant: Variant, p: float, p_in: float, generator: torch.Generator | None
    ) -> None:
        self.act = ACTIVATIONS[activation]()
        self.drop = Dropout(p, generator) if variant.dropout and p > 0 else None
        self.drop_in = Dropout(p_in, generator) if variant.dropout and p_in > 0 else None
        self.record = False
        self.pre_activations: list[Tensor] = []
        self.bn_trace: list[Tensor] | None = [] if variant.batch_norm else None

    def _activate(self, i: int, z: Tensor, norms: list[nn.Module]) -> Tensor:
        """Block ``i``'s tail on its pre-norm output ``z``: [norm] → (record) → activation → [dropout]."""
        if norms:
            z = norms[i](z)
        if self.record:
            self.pre_activations.append(z.detach())
        h = self.act(z)
        return h if self.drop is None else self.drop(h)


class MLP(_Blocks):
    """[input dropout] → (Linear → [BN | LN] → activation → [dropout]) × ``depth`` → Linear head.

    ``record = True`` makes ``forward`` keep every hidden pre-activation (the
    input of the nonlinearity) in ``self.pre_activations``; ``bn_trace`` (a
    list) collects the first BN layer's batch statistics in training mode.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        depth: int = 2,
        width: int = 128,
        activation: str = "relu",
        variant: Variant = VARIANTS["baseline"],
        p: float = 0.5,
        p_in: float = 0.0,
        bn_momentum: float = 0.1,
        bias: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [in_features] + [width] * depth
        drop_w = variant.dropconnect and p > 0
        self.linears = nn.ModuleList(
            DropConnectLinear(a, b, bias=bias, p=p, generator=generator) if drop_w else nn.Linear(a, b, bias=bias)
            for a, b in itertools.pairwise(sizes)
        )
        if variant.batch_norm:
            self.norms = nn.ModuleList(nn.BatchNorm1d(width, momentum=bn_momentum) for _ in range(depth))
        elif variant.layer_norm:
            self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
        else:
            self.norms = nn.ModuleList()  # none: skipped in forward (no Identity calls in the hot loop)
        self._block_setup(activation, variant, p, p_in, generator)
        self.head = nn.Linear(width, num_classes)

    def layers(self) -> list[nn.Linear]:
        """Every Linear layer, input side first (the head last)."""
        return [*self.linears, self.head]

    def forward(self, X: Tensor) -> Tensor:  # (N, D) → logits (N, num_classes)
        if self.record:
            self.pre_activations = []
        h = X if self.drop_in is None else self.drop_in(X)
        norms = list(self.norms)
        for i, linear in enumerate(self.linears):
            z = linear(h)  # (N, width)
            if i == 0 and self.bn_trace is not None and self.training:
                zk = z.detach()[:, :BN_TRACE_UNITS]
                self.bn_trace.append(torch.stack([zk.mean(0), zk.var(0)]))  # (2, K): mean, unbiased var
            h = self._activate(i, z, norms)
        return self.head(h)


class CNN(_Blocks):
    """A small CNN for square grey images given as flat rows (N, side²).

    ``depth`` blocks of Conv2d(3×3, padding 1) → [BatchNorm2d | LayerNorm over
    (C, H, W)] → activation → [dropout] → MaxPool2d(2) (pooling only while the
    maps are at least 4 pixels wide: 8 → 4 → 2 on the digits, 28 → 14 → 7 →
    3 on MNIST), then a Linear head on the flattened maps. DropConnect drops the
    head's weights (the classifier); input dropout drops pixels. The same
    attributes as :class:`MLP` (``layers``, ``norms``, ``record``,
    ``pre_activations``, ``bn_trace``), so training and recording are shared.
    """

    def __init__(
        self,
        side: int,
        num_classes: int,
        *,
        depth: int = 2,
        channels: int = 32,
        activation: str = "relu",
        variant: Variant = VARIANTS["baseline"],
        p: float = 0.5,
        p_in: float = 0.0,
        bn_momentum: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.side = side
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else channels, channels, 3, padding=1) for i in range(depth))
        sides, s = [], side
        for _ in range(depth):
            sides.append(s)  # the map size entering each block's norm
            s = s // 2 if s >= 4 else s
        self.pool = [sides[i] >= 4 for i in range(depth)]
        if variant.batch_norm:
            self.norms = nn.ModuleList(nn.BatchNorm2d(channels, momentum=bn_momentum) for _ in range(depth))
        elif variant.layer_norm:
            self.norms = nn.ModuleList(nn.LayerNorm([channels, n, n]) for n in sides)
        else:
            self.norms = nn.ModuleList()
        self._block_setup(activation, variant, p, p_in, generator)
        n_flat = channels * s * s
        if variant.dropconnect and p > 0:
            self.head: nn.Linear = DropConnectLinear(n_flat, num_classes, p=p, generator=generator)
        else:
            self.head = nn.Linear(n_flat, num_classes)

    def layers(self) -> list[nn.Module]:
        """Every Conv2d, input side first, then the Linear head."""
        return [*self.convs, self.head]

    def forward(self, X: Tensor) -> Tensor:  # (N, side²) → logits (N, num_classes)
        if self.record:
            self.pre_activations = []
        h = X.reshape(len(X), 1, self.side, self.side)
        if self.drop_in is not None:
            h = self.drop_in(h)
        norms = list(self.norms)
        for i, conv in enumerate(self.convs):
            z = conv(h)  # (N, C, H, W)
            if i == 0 and self.bn_trace is not None and self.training:
                zk = z.detach()[:, :BN_TRACE_UNITS].transpose(0, 1).flatten(1)  # (K, N·H·W): BN2d's per-channel sample
                self.bn_trace.append(torch.stack([zk.mean(1), zk.var(1)]))
            h = self._activate(i, z, norms)
            if self.pool[i]:
                h = F.max_pool2d(h, 2)
        return self.head(h.flatten(1))


Model = MLP | CNN


def init_linears_(model: Model, seed: int) -> None:
    """Give every Linear / Conv2d PyTorch's default init U(−1/√fan_in, 1/√fan_in) from a private generator.

    Drawn layer by layer in a fixed order, so every configuration (with or
    without BN, dropout…) starts from *identical* weights for the same seed.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers():
            bound = 1.0 / math.sqrt(layer.weight[0].numel())  # fan_in: in_features, or in_channels · k · k
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=g) * 2 - 1) * bound)
            if layer.bias is not None:
                layer.bias.copy_((torch.rand(layer.bias.shape, generator=g) * 2 - 1) * bound)


def build_model(
    config: CompareConfig,
    variant: Variant,
    in_features: int,
    num_classes: int,
    seed: int,
    device: str = "cpu",
    image_side: int = 0,
) -> Model:
    """The network of ``variant`` (``config.model``: MLP, or a CNN on ``image_side``² images), on ``device``.

    Initialised from ``seed``: every variant of one seed starts from the same weights.
    """
    gen = torch.Generator(device=device).manual_seed(seed + 2)  # dropout / DropConnect masks
    common = {
        "depth": config.depth,
        "activation": config.activation,
        "variant": variant,
        "p": config.dropout_p,
        "p_in": config.input_dropout,
        "bn_momentum": config.bn_momentum,
        "generator": gen,
    }
    if config.model == "cnn":
        if image_side < 2 or image_side * image_side != in_features:
            raise ValueError("The CNN needs square images; the 2D synthetic set works with the MLP only.")
        model: Model = CNN(image_side, num_classes, channels=config.channels, **common)
    else:
        model = MLP(in_features, num_classes, width=config.width, **common)
    init_linears_(model, seed)
    if variant.weight_norm:  # after init: g = ‖w‖, v = w, so the function at init is unchanged
        for layer in model.layers():
            parametrizations.weight_norm(layer)
    return model.to(device)


def weight_tensors(model: Model) -> list[Tensor]:
    """The weight matrices / kernels that L1/L2 act on (for weight norm: v, the direction)."""
    out = []
    for layer in model.layers():
        if parametrize_active(layer):
            out.append(layer.parametrizations.weight.original1)
        else:
            out.append(layer.weight)
    return out


def parametrize_active(layer: nn.Module) -> bool:
    return hasattr(layer, "parametrizations") and "weight" in layer.parametrizations


def make_optimizer(config: CompareConfig, variant: Variant, model: Model) -> torch.optim.Optimizer:
    """Adam or SGD+momentum; weight decay (L2) only on Linear/Conv weights, not on biases or BN/LN γ, β."""
    weights = weight_tensors(model)
    ids = {id(w) for w in weights}
    others = [p for p in model.parameters() if id(p) not in ids]
    wd = config.weight_decay if variant.l2 else 0.0
    groups = [{"params": weights, "weight_decay": wd}, {"params": others, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    return torch.optim.Adam(groups, lr=config.lr)


# --- results ------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """One configuration trained with one seed."""

    variant: str  # key into VARIANTS
    seed: int
    epochs: list[int] = field(default_factory=list)  # 0 (before training), 1, 2, …
    train_loss: list[float] = field(default_factory=list)  # eval-mode loss on the whole training subset
    val_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)  # fraction correct, 0…1
    val_acc: list[float] = field(default_factory=list)
    act_quantiles: list[np.ndarray] = field(default_factory=list)  # per epoch: (depth, len(QUANTILES))
    grad_norms: list[np.ndarray] = field(default_factory=list)  # per epoch ≥ 1: (depth + 1,) ‖∂L/∂W‖ last batch
    bn_batch: np.ndarray | None = None  # (steps, 2, K) first BN layer: batch mean, unbiased batch var
    bn_running: np.ndarray | None = None  # (steps, 2, K) running mean / var after each step (the formula)
    bn_buffers: list[np.ndarray] = field(default_factory=list)  # per epoch: (2, K) nn.BatchNorm1d's own buffers
    bn_buffer_steps: list[int] = field(default_factory=list)  # training steps done when each buffer was read
    steps_done: int = 0  # optimisation steps so far
    seconds: float = 0.0  # training time
    status: str = "running"  # running / finished / diverged / cancelled

    @property
    def label(self) -> str:
        return VARIANTS[self.variant].label

    @property
    def best_val_acc(self) -> float:
        return max(self.val_acc) if self.val_acc else math.nan

    @property
    def gap(self) -> float:
        """Final train accuracy − final validation accuracy (the generalisation gap)."""
        return self.train_acc[-1] - self.val_acc[-1] if self.val_acc else math.nan

    @property
    def loss_gap(self) -> float:
        """Final validation loss − final train loss (the gap measured in cross-entropy)."""
        return self.val_loss[-1] - self.train_loss[-1] if self.val_loss else math.nan


@dataclass
class Comparison:
    """All runs of a comparison; the page keeps it in ``st.session_state``."""

    config: CompareConfig
    runs: list[RunResult]
    dataset: str  # the dataset actually used (after any fallback)
    history: History | None = None  # the shared loop's record (status, reason, seconds)

    @property
    def status(self) -> str:
        return self.history.status if self.history is not None else "running"

    def by_variant(self) -> dict[str, list[RunResult]]:
        out: dict[str, list[RunResult]] = {}
        for run in self.runs:
            out.setdefault(run.variant, []).append(run)
        return out


# --- training -----------------------------------------------------------------------------------


@dataclass
class _Live:
    run: RunResult
    model: Model
    opt: torch.optim.Optimizer
    variant: Variant
    l1: float


def _evaluate(model: Model, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    logits = model(X)
    return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()


def _record_epoch(live: _Live, epoch: int, data: tuple[Tensor, ...]) -> float:
    """Eval-mode loss/accuracy on train and val, pre-activation quantiles, BN buffers; returns the train loss."""
    X_tr, y_tr, X_va, y_va = data
    model = live.model
    model.eval()
    with torch.no_grad():
        tl, ta = _evaluate(model, X_tr, y_tr)
        model.record = True  # the validation pass also records the pre-activations (no extra forward)
        vl, va = _evaluate(model, X_va, y_va)
        model.record = False
        flat = [z[:PROBE_SIZE].flatten().float() for z in model.pre_activations]  # per layer (P·width) or (P·C·H·W)
        model.pre_activations = []
        q = torch.tensor(QUANTILES, device=flat[0].device)
        if len({len(f) for f in flat}) == 1:  # MLP: one call for all layers
            quant = torch.quantile(torch.stack(flat), q, dim=1).T  # (depth, Q)
        else:  # CNN: the maps shrink block after block
            quant = torch.stack([torch.quantile(f, q) for f in flat])
    values = torch.stack([tl, vl, ta, va]).cpu().tolist()  # one device sync per epoch
    run = live.run
    run.epochs.append(epoch)
    run.train_loss.append(values[0])
    run.val_loss.append(values[1])
    run.train_acc.append(values[2])
    run.val_acc.append(values[3])
    run.act_quantiles.append(quant.cpu().numpy())
    bn = model.norms[0] if len(model.norms) else None
    if isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d):
        run.bn_buffers.append(
            torch.stack([bn.running_mean[:BN_TRACE_UNITS], bn.running_var[:BN_TRACE_UNITS]]).cpu().numpy()
        )
        run.bn_buffer_steps.append(run.steps_done)
    return values[0]


def _train_epoch(live: _Live, order: Tensor, batch_size: int, X: Tensor, y: Tensor) -> None:
    """One pass over the training subset in the shared batch ``order`` (no per-step sync with the device)."""
    model, opt = live.model, live.opt
    model.train()
    t0 = time.perf_counter()
    n_batches = 0
    weights = weight_tensors(model)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if len(idx) < 2 and live.variant.batch_norm:
            continue  # BN needs ≥ 2 samples per batch
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X[idx]), y[idx])
        if live.l1:
            loss = loss + live.l1 * sum(w.abs().sum() for w in weights)
        loss.backward()
        opt.step()
        n_batches += 1
    live.run.steps_done += n_batches
    grads = [w.grad for w in weights]
    if n_batches and all(g is not None for g in grads):
        live.run.grad_norms.append(torch.stack(torch._foreach_norm(grads)).cpu().numpy())
    live.run.seconds += time.perf_counter() - t0


def _bn_running_from_trace(run: RunResult, momentum: float) -> None:
    """The running statistics nn.BatchNorm1d holds after every step, rebuilt from the recorded batch stats.

    Equal to the module's buffers (tests check the final step), without a
    per-step copy in the training loop.
    """
    if run.bn_batch is None or not len(run.bn_batch):
        return
    mean = running_average(run.bn_batch[:, 0], momentum, 0.0)
    var = running_average(run.bn_batch[:, 1], momentum, 1.0)
    run.bn_running = np.stack([mean, var], axis=1)


def compare(
    config: CompareConfig,
    split: Split,
    *,
    device: str = "cpu",
    on_epoch: Callable[[Comparison, Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Comparison:
    """Train every configuration of ``config.variants`` × ``num_seeds`` seeds on ``split``.

    Same data, same initial weights (per seed), same batch order (per seed and
    epoch) for every configuration. ``on_epoch(comparison, progress)`` is called
    after every epoch of all runs (the page redraws live charts there; a click
    interrupts it). Returns CPU results; a run whose loss becomes NaN/inf stops
    alone (status "diverged") while the others continue.
    """
    variants = [VARIANTS[k] for k in config.variants]
    X_tr = torch.as_tensor(split.X_train, device=device)
    y_tr = torch.as_tensor(split.y_train, device=device)
    X_va = torch.as_tensor(split.X_val, device=device)
    y_va = torch.as_tensor(split.y_val, device=device)
    data = (X_tr, y_tr, X_va, y_va)
    seeds = [config.seed + i for i in range(config.num_seeds)]
    lives: list[_Live] = []
    for seed in seeds:
        for v in variants:
            model = build_model(config, v, split.num_features, split.num_classes, seed, device, split.image_side)
            live = _Live(RunResult(v.key, seed), model, make_optimizer(config, v, model), v, config.l1 if v.l1 else 0.0)
            _record_epoch(live, 0, data)
            lives.append(live)
    batch_gens = {s: torch.Generator().manual_seed(s + 1) for s in seeds}
    comparison = Comparison(config, [lv.run for lv in lives], split.name)

    def epoch_step(step: int) -> dict[str, float]:
        orders = {s: torch.randperm(len(X_tr), generator=g).to(device) for s, g in batch_gens.items()}
        losses = []
        for live in lives:
            if live.run.status != "running":
                continue
            _train_epoch(live, orders[live.run.seed], config.batch_size, X_tr, y_tr)
            loss = _record_epoch(live, step + 1, data)
            if not math.isfinite(loss):
                live.run.status = "diverged"
                continue
            losses.append(loss)
        # The shared loop stops on NaN only when *every* run has diverged.
        return {"loss": max(losses) if losses else math.nan}

    def progress(p: Progress) -> None:
        comparison.history = p.history
        if on_epoch is not None:
            on_epoch(comparison, p)

    with single_thread(torch.device(device).type == "cpu"):  # small MLPs: see lab.device.single_thread
        history = run_steps(
            epoch_step,
            config.num_epochs,
            on_progress=progress,
            progress_every=1,
            progress_seconds=0.0,
            should_stop=should_stop,
        )
    comparison.history = history
    for live in lives:
        if live.run.status == "running":
            live.run.status = "finished" if history.status == "finished" else history.status
        if live.model.bn_trace:
            live.run.bn_batch = torch.stack(live.model.bn_trace).cpu().numpy()
            _bn_running_from_trace(live.run, config.bn_momentum)
    return comparison


def finalize_partial(comparison: Comparison) -> None:
    """Mark an interrupted comparison (the page's script was stopped inside ``on_epoch``) as cancelled.

    The runs keep every epoch recorded so far; BN traces are not kept (the
    models are gone), so the BN tab needs a finished or Stop-ped run.
    """
    for run in comparison.runs:
        if run.status == "running":
            run.status = "cancelled"
    history = comparison.history
    if history is not None and history.status == "running":
        history.status = "cancelled"
        history.reason = f"Stopped after {history.completed_steps} epoch(s); the curves so far are kept."


# --- deep sigmoid nets: vanishing gradients ---------------------------------------------------------


def gradient_profile(
    X: np.ndarray,
    y: np.ndarray,
    *,
    depth: int = 8,
    width: int = 64,
    activation: str = "sigmoid",
    batch_norm: bool = False,
    num_classes: int = 10,
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray:
    """‖∂L/∂W‖ of every Linear layer (input side first, head last) at initialisation, one batch.

    ``X`` (N, D), ``y`` (N,) → (depth + 1,). With sigmoid (σ′ ≤ 1/4) and default
    init the backward signal shrinks at every layer, so the first layer's
    gradient is orders of magnitude below the last's; BN rescales every
    pre-activation to unit variance, which keeps the backward signal alive.
    """
    config = CompareConfig(depth=depth, width=width, activation=activation)
    variant = VARIANTS["batchnorm"] if batch_norm else VARIANTS["baseline"]
    model = build_model(config, variant, X.shape[1], num_classes, seed, device)
    model.train()
    loss = F.cross_entropy(model(torch.as_tensor(X, device=device)), torch.as_tensor(y, device=device))
    loss.backward()
    return torch.stack([w.grad.norm() for w in weight_tensors(model)]).cpu().numpy()


# --- tables and export --------------------------------------------------------------------------


def _mean_spread(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std()) if len(arr) > 1 else 0.0


def summary(comparison: Comparison) -> list[dict[str, object]]:
    """One row per configuration: best val accuracy, final train/val accuracy, gap, losses, epochs, time.

    With several seeds, numbers are means and ``± spread`` (standard deviation) is in the text column.
    """
    rows = []
    for key, runs in comparison.by_variant().items():
        runs = [r for r in runs if r.val_acc]
        if not runs:
            continue
        best, best_sd = _mean_spread([r.best_val_acc for r in runs])
        gap, gap_sd = _mean_spread([r.gap for r in runs])
        rows.append(
            {
                "configuration": VARIANTS[key].label,
                "best val acc %": round(100 * best, 2),
                "± (seeds)": round(100 * best_sd, 2),
                "best epoch": int(np.mean([r.epochs[int(np.argmax(r.val_acc))] for r in runs])),
                "final train acc %": round(100 * float(np.mean([r.train_acc[-1] for r in runs])), 2),
                "final val acc %": round(100 * float(np.mean([r.val_acc[-1] for r in runs])), 2),
                "gap (train − val) %": round(100 * gap, 2),
                "gap ±": round(100 * gap_sd, 2),
                "final train loss": round(float(np.mean([r.train_loss[-1] for r in runs])), 4),
                "final val loss": round(float(np.mean([r.val_loss[-1] for r in runs])), 4),
                "loss gap (val − train)": round(float(np.mean([r.loss_gap for r in runs])), 4),
                "epochs": max(r.epochs[-1] for r in runs),
                "time s": round(float(np.mean([r.seconds for r in runs])), 2),
                "status": ", ".join(sorted({r.status for r in runs})),
            }
        )
    return rows


def curves_csv(comparison: Comparison) -> str:
    """The learning curves of every run as CSV (one row per configuration, seed and epoch)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["configuration", "seed", "epoch", "train_loss", "val_loss", "train_acc", "val_acc"])
    for run in comparison.runs:
        for i, epoch in enumerate(run.epochs):
            writer.writerow(
                [
                    run.variant,
                    run.seed,
                    epoch,
                    f"{run.train_loss[i]:.6g}",
                    f"{run.val_loss[i]:.6g}",
                    f"{run.train_acc[i]:.6g}",
                    f"{run.val_acc[i]:.6g}",
                ]
            )
    return buf.getvalue()


# --- figures ------------------------------------------------------------------------------------


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _stack(runs: list[RunResult], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs common to all runs and the metric as (runs, epochs)."""
    n = min(len(r.epochs) for r in runs)
    return np.asarray(runs[0].epochs[:n]), np.asarray([getattr(r, name)[:n] for r in runs], dtype=np.float64)


def curves_figure(comparison: Comparison, metric: str = "acc", *, shade: str = "gap") -> go.Figure:
    """Train (solid) vs validation (dashed) curves for every configuration on shared axes.

    ``metric`` "acc" or "loss". ``shade="gap"`` fills the generalisation gap
    between each configuration's train and validation curve; ``"spread"``
    draws mean ± standard deviation bands over seeds instead.
    """
    fig = go.Figure()
    for i, (key, runs) in enumerate(comparison.by_variant().items()):
        runs = [r for r in runs if r.epochs]
        if not runs:
            continue
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        label = VARIANTS[key].label
        scale = 100.0 if metric == "acc" else 1.0
        for part in ("train", "val"):
            x, values = _stack(runs, f"{part}_{metric}")
            mean, sd = values.mean(0) * scale, values.std(0) * scale
            if shade == "spread" and len(runs) > 1:
                fig.add_trace(
                    go.Scatter(
                        x=np.concatenate([x, x[::-1]]),
                        y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                        fill="toself",
                        fillcolor=_rgba(color, 0.15),
                        line={"width": 0},
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=key,
                    )
                )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=mean,
                    mode="lines",
                    name=f"{label} · {part}",
                    legendgroup=key,
                    line={"color": color, "dash": "solid" if part == "train" else "dash", "width": 2},
                    fill="tonexty" if (shade == "gap" and part == "val") else None,
                    fillcolor=_rgba(color, 0.12),
                    hovertemplate=f"{label} {part}: %{{y:.4g}}<extra></extra>",
                )
            )
    what = "accuracy %" if metric == "acc" else "cross-entropy loss"
    shade_text = "shaded: generalisation gap" if shade == "gap" else "bands: mean ± std over seeds"
    fig.update_layout(hovermode="x unified")
    return layout(fig, f"Train (solid) vs validation (dashed) {what} — {shade_text}", "epoch", what, 430)


def activation_figure(run: RunResult, *, title: str | None = None) -> go.Figure:
    """Per hidden layer, the pre-activation distribution over epochs: 5–95 % and 25–75 % bands and the median."""
    q = np.asarray(run.act_quantiles)  # (E, depth, 5)
    depth = q.shape[1]
    fig = make_subplots(
        rows=1, cols=depth, shared_yaxes=True, subplot_titles=[f"hidden layer {i + 1}" for i in range(depth)]
    )
    x = np.asarray(run.epochs[: len(q)])
    for layer in range(depth):
        color = CLASS_COLORS[layer % len(CLASS_COLORS)]
        first = layer == 0
        for lo, hi, alpha, name in ((0, 4, 0.15, "5–95 %"), (1, 3, 0.35, "25–75 %")):
            fig.add_trace(
                go.Scatter(x=x, y=q[:, layer, hi], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"),
                row=1,
                col=layer + 1,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=q[:, layer, lo],
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=_rgba(color, alpha),
                    name=name,
                    showlegend=first,
                    legendgroup=name,
                    hoverinfo="skip",
                ),
                row=1,
                col=layer + 1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=q[:, layer, 2],
                mode="lines",
                line={"color": color},
                name="median",
                showlegend=first,
                legendgroup="median",
                hovertemplate="epoch %{x}: median %{y:.3g}<extra></extra>",
            ),
            row=1,
            col=layer + 1,
        )
        fig.update_xaxes(title_text="epoch", row=1, col=layer + 1)
    fig.update_yaxes(title_text="pre-activation value", row=1, col=1)
    return layout(fig, title or f"{run.label}: pre-activation distribution per layer over training", height=340)


def grad_norm_figure(comparison: Comparison, epoch: int | None = None) -> go.Figure:
    """‖∂L/∂W‖ per layer (input side → head) for every configuration, at ``epoch`` (default: the last)."""
    fig = go.Figure()
    for i, (key, runs) in enumerate(comparison.by_variant().items()):
        norms = [r.grad_norms for r in runs if r.grad_norms]
        if not norms:
            continue
        e = min(len(n) for n in norms) if epoch is None else max(1, min(epoch, min(len(n) for n in norms)))
        values = np.mean([n[e - 1] for n in norms], axis=0)
        names = [f"layer {j + 1}" for j in range(len(values) - 1)] + ["output"]
        fig.add_trace(
            go.Scatter(
                x=names,
                y=values,
                mode="lines+markers",
                name=VARIANTS[key].label,
                line={"color": CLASS_COLORS[i % len(CLASS_COLORS)]},
            )
        )
    fig.update_yaxes(type="log")
    when = "last epoch" if epoch is None else f"epoch {epoch}"
    return layout(
        fig,
        f"Weight-gradient norm ‖∂L/∂W‖ per layer ({when}, last batch)",
        "layer (input → output)",
        "gradient norm (log)",
        380,
    )


def gradient_profile_figure(profiles: dict[str, np.ndarray], title: str) -> go.Figure:
    """Bars of ‖∂L/∂W‖ per layer (log scale) for several networks, e.g. without / with BN."""
    fig = go.Figure()
    for i, (name, values) in enumerate(profiles.items()):
        names = [f"layer {j + 1}" for j in range(len(values) - 1)] + ["output"]
        fig.add_trace(go.Bar(x=names, y=values, name=name, marker_color=CLASS_COLORS[i % len(CLASS_COLORS)]))
    fig.update_layout(barmode="group")
    fig.update_yaxes(type="log")
    return layout(fig, title, "layer (input → output)", "‖∂L/∂W‖ (log)", 380)


def bn_stats_figure(run: RunResult, unit: int = 0, momentum: float = 0.1, trained_momentum: float = 0.1) -> go.Figure:
    """First BN layer, one unit: batch mean/variance per step, PyTorch's running values, and the formula replayed with α."""
    assert run.bn_batch is not None
    steps = np.arange(1, len(run.bn_batch) + 1)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("mean μ", "variance σ²"))
    for col, (idx, init, _name) in enumerate(((0, 0.0, "mean"), (1, 1.0, "variance")), start=1):
        batch = run.bn_batch[:, idx, unit]
        replay = running_average(batch[:, None], momentum, init)[:, 0]
        first = col == 1
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=batch,
                mode="markers",
                marker={"size": 3, "color": "#999999"},
                name="batch",
                showlegend=first,
                legendgroup="b",
            ),
            row=1,
            col=col,
        )
        if run.bn_running is not None:
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=run.bn_running[:, idx, unit],
                    mode="lines",
                    line={"color": "#1f77b4", "width": 3},
                    name=f"running (α={trained_momentum:g}, training)",
                    showlegend=first,
                    legendgroup="r",
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=replay,
                mode="lines",
                line={"color": "#d62728", "dash": "dash"},
                name=f"formula, α={momentum:g}",
                showlegend=first,
                legendgroup="f",
            ),
            row=1,
            col=col,
        )
        if run.bn_buffers:
            fig.add_trace(
                go.Scatter(
                    x=run.bn_buffer_steps,
                    y=[b[idx, unit] for b in run.bn_buffers],
                    mode="markers",
                    marker={"size": 9, "symbol": "diamond-open", "color": "black"},
                    name="BatchNorm1d buffer",
                    showlegend=first,
                    legendgroup="k",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="training step", row=1, col=col)
    fig.update_yaxes(title_text=f"unit {unit} of hidden layer 1", row=1, col=1)
    return layout(fig, "BN running statistics vs batch statistics (first BN layer)", height=360)


def bias_figure(exp) -> go.Figure:
    """Loss with vs without the bias before BN (they overlap), and the bias gradient norm (≈ 0)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "gradient norms of layer 1"))
    fig.add_trace(
        go.Scatter(
            x=exp.steps, y=exp.loss_with_bias, name="Linear(bias=True) → BN", line={"color": "#1f77b4", "width": 4}
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=exp.steps,
            y=exp.loss_without_bias,
            name="Linear(bias=False) → BN",
            line={"color": "#ff7f0e", "dash": "dash"},
        ),
        row=1,
        col=1,
    )
    floor = 1e-12  # log axis: exact zeros are drawn at the floor
    fig.add_trace(
        go.Scatter(x=exp.steps, y=np.maximum(exp.weight_grad_norm, floor), name="‖∂L/∂W‖", line={"color": "#2ca02c"}),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=exp.steps,
            y=np.maximum(exp.bias_grad_norm, floor),
            name="‖∂L/∂b‖ (bias before BN)",
            line={"color": "#d62728"},
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(type="log", title_text="norm (log)", row=1, col=2)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=1)
    fig.update_xaxes(title_text="step")
    return layout(fig, "The bias before BN changes nothing: same loss, zero gradient", height=360)


# --- show me the code ---------------------------------------------------------------------------

SNIPPET = '''
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits

# Data: a small training subset of the bundled 8×8 digits + a held-out validation set
X, y = load_digits(return_X_y=True)
X = torch.tensor(X / 16.0, dtype=torch.float32)
y = torch.tensor(y)
order = torch.from_numpy(np.random.default_rng({seed}).permutation(len(X)))
X_train, y_train = X[order[:{n_train}]], y[order[:{n_train}]]
X_val, y_val = X[order[{n_train}:{n_train} + {n_val}]], y[order[{n_train}:{n_train} + {n_val}]]

def make_model(batch_norm, dropout_p):
    """{depth} × (Linear → [BatchNorm1d] → {act} → [Dropout]) → Linear, identical initial weights."""
    g = torch.Generator().manual_seed({seed})
    layers, sizes = [], [64] + [{width}] * {depth}
    def linear(n_in, n_out):
        layer = nn.Linear(n_in, n_out)
        bound = 1 / math.sqrt(n_in)  # PyTorch's default init, drawn from our own generator
        with torch.no_grad():
            layer.weight.copy_((torch.rand(n_out, n_in, generator=g) * 2 - 1) * bound)
            layer.bias.copy_((torch.rand(n_out, generator=g) * 2 - 1) * bound)
        return layer
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers.append(linear(n_in, n_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out, momentum={bn_momentum}))  # momentum = α
        layers.append(nn.{act}())
        if dropout_p > 0:
            layers.append(nn.Dropout(dropout_p))
    layers.append(linear({width}, 10))
    return nn.Sequential(*layers)

def train(model, weight_decay=0.0):
    weights = [p for n, p in model.named_parameters() if p.dim() == 2]  # decay weights, not biases / γ, β
    others = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = {opt}([dict(params=weights, weight_decay=weight_decay), dict(params=others)], lr={lr}{momentum})
    batches = torch.Generator().manual_seed({seed} + 1)  # the same batch order for every model
    for epoch in range({num_epochs}):
        model.train()
        perm = torch.randperm(len(X_train), generator=batches)
        for start in range(0, len(perm), {batch_size}):
            idx = perm[start:start + {batch_size}]
            opt.zero_grad()
            F.cross_entropy(model(X_train[idx]), y_train[idx]).backward()
            opt.step()
    model.eval()  # dropout off, BN uses its running statistics
    with torch.no_grad():
        train_acc = (model(X_train).argmax(1) == y_train).float().mean().item()
        val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
    return train_acc, val_acc

torch.manual_seed({seed} + 2)  # dropout masks
results = {{
    "baseline": train(make_model(batch_norm=False, dropout_p=0.0)),
    "dropout": train(make_model(batch_norm=False, dropout_p={dropout_p})),
    "batchnorm": train(make_model(batch_norm=True, dropout_p=0.0)),
    "l2": train(make_model(batch_norm=False, dropout_p=0.0), weight_decay={weight_decay}),
}}
for name, (train_acc, val_acc) in results.items():
    print(f"{{name:10s}} train {{train_acc:.1%}}  val {{val_acc:.1%}}  gap {{train_acc - val_acc:+.1%}}")
'''


def snippet(config: CompareConfig) -> str:
    """A runnable plain-PyTorch script: baseline, dropout, BN and L2 on the page's digits settings."""
    from lab.codegen import code, render_snippet

    sgd = config.optimizer == "sgd"
    return render_snippet(
        SNIPPET,
        seed=config.seed,
        n_train=config.n_train,
        n_val=config.n_val,
        depth=config.depth,
        width=config.width,
        act=code({"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[config.activation]),
        bn_momentum=config.bn_momentum,
        opt=code("torch.optim.SGD" if sgd else "torch.optim.Adam"),
        lr=config.lr,
        momentum=code(", momentum=0.9" if sgd else ""),
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        dropout_p=config.dropout_p,
        weight_decay=config.weight_decay,
    )
