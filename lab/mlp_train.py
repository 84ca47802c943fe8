"""Training the MLP: one student's run (:class:`Trainer`), its grid pictures' data, the backprop check.

:class:`Trainer` holds one student's run (model, optimiser, data on the device,
history) and trains it epoch by epoch through :func:`lab.training.run_steps`, so
the page gets progress callbacks, NaN detection and snapshots. Seeded CPU runs
are bit-identical: initialisation and shuffling use private generators.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from lab import data2d
from lab.init import init_network
from lab.mlp_config import NetConfig, TrainConfig
from lab.mlp_model import (
    Collapse,
    build_mlp,
    collapse_linear,
    data_loss,
    features,
    is_linear,
    layer_outputs,
    linear_layers,
    manual_gradients,
    output_map,
    predict_classes,
    small_model_threads,
    symmetry_gaps,
)
from lab.training import History, Progress, run_steps

# --- training -------------------------------------------------------------------------


def penalty_term(weight: torch.Tensor, *, l1: float, l2: float) -> torch.Tensor:
    """l1·Σ|w| + (l2/2)·Σw² for one weight matrix (a term is left out when its rate is 0)."""
    terms = ([l1 * weight.abs().sum()] if l1 else []) + ([0.5 * l2 * (weight**2).sum()] if l2 else [])
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


@torch.no_grad()
def l1_proximal_step(model: nn.Sequential, threshold: float) -> None:
    """L1's proximal step on every linear layer's weights, in place: w ← sign(w)·max(|w| − t, 0).

    Equal to Playground's rule: step w by −t·sign(w) and set it to exactly 0 if
    that step would cross 0 (t = lr·l1). Weights whose data gradient stays below
    l1 in size stay at exactly 0: the link is dead. Biases are left alone.
    """
    for layer in linear_layers(model):
        w = layer.weight
        w.copy_(w.sign() * (w.abs() - threshold).clamp(min=0))


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
        """The penalty added to the loss: l1·Σ|w| (unless L1 is a proximal step) + (l2/2)·Σw², weights only.

        (l2/2)·Σw² has gradient l2·w: the convention of Playground and of
        ``weight_decay``. Biases are not penalised, as in Playground.
        """
        l1 = 0.0 if self.cfg.l1_clip else self.cfg.l1
        l2 = self.cfg.l2
        if not (l1 or l2):
            return 0.0
        # Written exactly as in the code snippet, so both give bit-identical runs.
        return sum(penalty_term(layer.weight, l1=l1, l2=l2) for layer in linear_layers(self.model))

    def zero_weights(self) -> tuple[int, int]:
        """(exact zeros, all weights) over the linear layers' weights: L1's dead links."""
        weights = [layer.weight for layer in linear_layers(self.model)]
        return sum(int((w == 0).sum()) for w in weights), sum(w.numel() for w in weights)

    def metrics_now(self) -> dict[str, float]:
        """Loss (and accuracy) at the current weights — after a hand edit too, not the last epoch's."""
        return {k: float(v) for k, v in self.evaluate().items()}

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
        # Without a penalty, skip adding 0.0: an extra autograd node costs ~3 % of a small net's epoch.
        penalised = bool((self.cfg.l1 and not self.cfg.l1_clip) or self.cfg.l2)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            loss = self.data_loss(self.model(self.X_train[idx]), self.y_train[idx])
            if penalised:
                loss = loss + self.penalty()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.cfg.l1 and self.cfg.l1_clip:
                l1_proximal_step(self.model, self.optimizer.param_groups[0]["lr"] * self.cfg.l1)
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


@dataclass(frozen=True)
class RegularisedWeights:
    """Every weight of the same network trained with no penalty, with L1 (clipped) and with L2."""

    weights: dict[str, np.ndarray]  # "none" / "L1" / "L2" → all weights, flattened
    exact_zeros: dict[str, int]  # exact zeros per run
    test_loss: dict[str, float]  # final test loss per run
    epochs: int


def compare_l1_l2(
    data: data2d.Dataset2D,
    net: NetConfig,
    cfg: TrainConfig,
    *,
    l1: float = 0.01,
    l2: float = 0.01,
    num_epochs: int = 150,
    seed: int = 0,
    device: str = "cpu",
) -> RegularisedWeights:
    """Train three copies from the same start (same batches): no penalty, L1 with clipping, L2 (½‖W‖²).

    L1's proximal step sets weights to exactly 0; L2 shrinks every weight in
    proportion to its size and leaves none at exactly 0.
    """
    runs = {
        "none": replace(cfg, l1=0.0, l2=0.0),
        "L1": replace(cfg, l1=l1, l1_clip=True, l2=0.0),
        "L2": replace(cfg, l1=0.0, l2=l2),
    }
    weights, zeros, losses = {}, {}, {}
    for name, run_cfg in runs.items():
        t = Trainer.create(data, net, run_cfg, seed=seed, device=device)
        t.train(num_epochs)
        weights[name] = np.concatenate([m.weight.detach().cpu().numpy().ravel() for m in linear_layers(t.model)])
        zeros[name] = int((weights[name] == 0).sum())
        losses[name] = t.history.last("test_loss")
    return RegularisedWeights(weights, zeros, losses, num_epochs)
