"""Lab 4's training: every configuration × seed on the same data, weights and batches, recorded per epoch.

``compare`` interleaves the runs epoch by epoch (every curve grows together on
the page) through the shared loop ``lab.training.run_steps`` (one step = one
epoch of every run), so progress, cancellation and NaN handling are the
project's. Also: the vanishing-gradient profile at initialisation, the summary
table and the CSV export.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lab.batchnorm import running_average
from lab.device import single_thread
from lab.digits import Split
from lab.regularization_config import BN_TRACE_UNITS, PROBE_SIZE, QUANTILES, VARIANTS, CompareConfig, Variant
from lab.regularization_models import Model, build_model, init_linears_, make_optimizer, weight_tensors
from lab.training import History, Progress, run_steps

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
    bn_parts: list[np.ndarray] = field(default_factory=list)  # per trained epoch: (steps, 2, K), joined into bn_batch
    first_weights: np.ndarray | None = None  # layer 1's weights (flattened) after the latest recorded epoch
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
    run.first_weights = model.layers()[0].weight.detach().flatten().cpu().numpy()  # weight norm: the effective w
    bn = model.norms[0] if len(model.norms) else None
    if isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d):
        run.bn_buffers.append(
            torch.stack([bn.running_mean[:BN_TRACE_UNITS], bn.running_var[:BN_TRACE_UNITS]]).cpu().numpy()
        )
        run.bn_buffer_steps.append(run.steps_done)
    return values[0]


def _train_epoch(
    live: _Live, order: Tensor, batch_size: int, X: Tensor, y: Tensor, pause: Callable[[], object] | None = None
) -> None:
    """One pass over the training subset in the shared batch ``order`` (no per-step sync with the device).

    ``pause()`` runs before every batch (a server's scheduler lets other sessions' reruns go first there)."""
    model, opt = live.model, live.opt
    model.train()
    t0 = time.perf_counter()
    n_batches = 0
    weights = weight_tensors(model)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if len(idx) < 2 and live.variant.batch_norm:
            continue  # BN needs ≥ 2 samples per batch
        if pause is not None:
            pause()
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
    if model.bn_trace is not None:  # kept in the result epoch by epoch: a stopped run still has its BN statistics
        part = torch.stack(model.bn_trace).cpu().numpy() if model.bn_trace else np.zeros((0, 2, BN_TRACE_UNITS))
        live.run.bn_parts.append(part)
        model.bn_trace.clear()
    live.run.seconds += time.perf_counter() - t0


def _finish_bn(run: RunResult, momentum: float) -> None:
    """Join the per-epoch BN batch statistics into ``bn_batch`` and rebuild the running values after every step.

    The running values equal nn.BatchNorm1d/2d's own buffers (tests check
    them), without a per-step copy in the training loop.
    """
    if not run.bn_parts:
        return
    run.bn_batch = np.concatenate(run.bn_parts)
    if not len(run.bn_batch):
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
    on_tick: Callable[[Comparison], None] | None = None,
    pause: Callable[[], object] | None = None,
) -> Comparison:
    """Train every configuration of ``config.variants`` × ``num_seeds`` seeds on ``split``.

    Same data, same initial weights (per seed), same batch order (per seed and
    epoch) for every configuration. ``on_epoch(comparison, progress)`` is called
    after every epoch of all runs (the page redraws live charts there; a click
    interrupts it). ``on_tick(comparison)`` is called as soon as the comparison
    exists and after every model built and every epoch of every single run: the
    page stores the comparison there, so a Stop at any moment keeps what is done
    (see :func:`finalize_partial`). ``pause()`` is called before every mini-batch: a
    shared server waits there while other sessions rerun (``lab.scheduler``); it does not
    change the results. Returns CPU results; a run whose loss becomes
    NaN/inf stops alone (status "diverged") while the others continue.
    """
    variants = [VARIANTS[k] for k in dict.fromkeys(config.variants)]  # a repeated key trains once
    X_tr = torch.as_tensor(split.X_train, device=device)
    y_tr = torch.as_tensor(split.y_train, device=device)
    X_va = torch.as_tensor(split.X_val, device=device)
    y_va = torch.as_tensor(split.y_val, device=device)
    data = (X_tr, y_tr, X_va, y_va)
    seeds = [config.seed + i for i in range(config.num_seeds)]
    history = History()
    comparison = Comparison(config, [], split.name, history)
    tick = on_tick if on_tick is not None else (lambda c: None)
    lives: list[_Live] = []
    with single_thread(torch.device(device).type == "cpu"):  # small MLPs: see lab.device.single_thread
        tick(comparison)
        for seed in seeds:
            for v in variants:
                model = build_model(config, v, split.num_features, split.num_classes, seed, device, split.image_side)
                run = RunResult(v.key, seed)
                live = _Live(run, model, make_optimizer(config, v, model), v, config.l1 if v.l1 else 0.0)
                _record_epoch(live, 0, data)
                lives.append(live)
                comparison.runs.append(run)
                tick(comparison)
        batch_gens = {s: torch.Generator().manual_seed(s + 1) for s in seeds}

        def epoch_step(step: int) -> dict[str, float]:
            orders = {s: torch.randperm(len(X_tr), generator=g).to(device) for s, g in batch_gens.items()}
            losses = []
            for live in lives:
                if live.run.status != "running":
                    continue
                _train_epoch(live, orders[live.run.seed], config.batch_size, X_tr, y_tr, pause)
                loss = _record_epoch(live, step + 1, data)
                if not math.isfinite(loss):
                    live.run.status = "diverged"
                else:
                    losses.append(loss)
                tick(comparison)
            # The shared loop stops on NaN only when *every* run has diverged.
            return {"loss": max(losses) if losses else math.nan}

        def progress(p: Progress) -> None:
            if on_epoch is not None:
                on_epoch(comparison, p)

        run_steps(
            epoch_step,
            config.num_epochs,
            on_progress=progress,
            progress_every=1,
            progress_seconds=0.0,
            should_stop=should_stop,
            history=history,
        )
    for live in lives:
        if live.run.status == "running":
            live.run.status = "finished" if history.status == "finished" else history.status
        _finish_bn(live.run, config.bn_momentum)
    if history.status == "cancelled":
        history.reason = _stopped_reason(comparison, history.completed_steps)
    return comparison


def _stopped_reason(comparison: Comparison, epochs_done: int) -> str:
    planned = comparison.config.num_epochs
    if epochs_done == 0:
        return (
            "Stopped before the first epoch finished: nothing was trained yet — the curves show only the "
            "starting point (epoch 0)."
        )
    return f"Stopped after {epochs_done} of {planned} epochs; the curves and tables show those {epochs_done} epochs."


def finalize_partial(comparison: Comparison) -> None:
    """Mark an interrupted comparison (the page's script was stopped inside a callback) as cancelled.

    Every run keeps the epochs that *all* running configurations finished (a
    Stop in the middle of an epoch drops the configurations that were one epoch
    ahead back to the common count, so the table compares like with like),
    including their BN statistics. ``history.reason`` says how far it got.
    """
    running = [r for r in comparison.runs if r.status == "running"]
    done = min((len(r.epochs) for r in running), default=1) - 1  # epochs trained by every running run
    for run in running:
        n = done + 1
        for name in ("epochs", "train_loss", "val_loss", "train_acc", "val_acc", "act_quantiles", "bn_buffers"):
            del getattr(run, name)[n:]
        del run.grad_norms[done:]
        del run.bn_parts[done:]
        del run.bn_buffer_steps[n:]
        if run.bn_buffer_steps:
            run.steps_done = run.bn_buffer_steps[-1]
        run.status = "cancelled"
        _finish_bn(run, comparison.config.bn_momentum)
    history = comparison.history
    if history is None:
        history = comparison.history = History()
    if history.status == "running":
        history.status = "cancelled"
        history.completed_steps = max(done, 0)
        history.reason = _stopped_reason(comparison, max(done, 0))


# --- deep sigmoid nets: vanishing gradients ---------------------------------------------------------


def gradient_profile(
    X: np.ndarray,
    y: np.ndarray,
    *,
    depth: int = 8,
    width: int = 64,
    activation: str = "sigmoid",
    batch_norm: bool = False,
    init: str = "default",
    num_classes: int = 10,
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray:
    """‖∂L/∂W‖ of every Linear layer (input side first, head last) **at initialisation**, one batch.

    ``X`` (N, D), ``y`` (N,) → (depth + 1,). ``init`` is a scheme of
    :data:`lab.regularization_models.INITS`. With sigmoid (σ′ ≤ 1/4) and the
    default init the backward signal shrinks at every layer, so the first
    layer's gradient is orders of magnitude below the last's. BN (in training
    mode, batch statistics) rescales every pre-activation to unit variance,
    which keeps the signal alive *at this point*; for ReLU an init scaled to
    the fan-in (He) does the same without BN. Nothing here says what happens
    later in training.
    """
    config = CompareConfig(depth=depth, width=width, activation=activation)
    variant = VARIANTS["batchnorm"] if batch_norm else VARIANTS["baseline"]
    model = build_model(config, variant, X.shape[1], num_classes, seed, device)
    if init != "default":
        init_linears_(model, seed, init)
    model.train()
    loss = F.cross_entropy(model(torch.as_tensor(X, device=device)), torch.as_tensor(y, device=device))
    loss.backward()
    return torch.stack([w.grad.norm() for w in weight_tensors(model)]).cpu().numpy()


def activation_spread(
    X: np.ndarray, *, depth: int = 8, width: int = 64, activation: str = "relu", init: str = "default", seed: int = 0
) -> np.ndarray:
    """Standard deviation of every hidden layer's pre-activation at initialisation (no BN) → (depth,).

    The forward half of the story: a scheme whose variance is not matched to
    the fan-in (and the activation's gain) shrinks or blows up the signal
    layer by layer; gradients flowing back suffer the same.
    """
    config = CompareConfig(depth=depth, width=width, activation=activation)
    model = build_model(config, VARIANTS["baseline"], X.shape[1], 10, seed)
    init_linears_(model, seed, init)
    model.eval()
    model.record = True
    with torch.no_grad():
        model(torch.as_tensor(X))
    return np.asarray([float(z.std()) for z in model.pre_activations])


# --- tables and export --------------------------------------------------------------------------


def _mean_spread(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std()) if len(arr) > 1 else 0.0


def summary(comparison: Comparison) -> list[dict[str, object]]:
    """One row per configuration, validation first: final and best val accuracy / loss, then the gaps.

    What counts is the validation column: a configuration is better when its
    validation accuracy is higher / its validation loss lower. The gaps (train
    − val) come second: a smaller gap is only a win when validation did not
    get worse (a model that fits the training set worse also has a smaller gap).
    With several seeds, numbers are means and ``±`` columns the standard deviation.
    """
    rows = []
    for key, runs in comparison.by_variant().items():
        runs = [r for r in runs if r.val_acc]
        if not runs:
            continue
        final_acc, final_sd = _mean_spread([r.val_acc[-1] for r in runs])
        best, best_sd = _mean_spread([r.best_val_acc for r in runs])
        gap, gap_sd = _mean_spread([r.gap for r in runs])
        rows.append(
            {
                "configuration": VARIANTS[key].label,
                "final val acc %": round(100 * final_acc, 2),
                "± (seeds)": round(100 * final_sd, 2),
                "best val acc %": round(100 * best, 2),
                "best acc epoch": int(np.mean([r.epochs[int(np.argmax(r.val_acc))] for r in runs])),
                "final val loss": round(float(np.mean([r.val_loss[-1] for r in runs])), 4),
                "best val loss": round(float(np.mean([min(r.val_loss) for r in runs])), 4),
                "best loss epoch": int(np.mean([r.epochs[int(np.argmin(r.val_loss))] for r in runs])),
                "final train acc %": round(100 * float(np.mean([r.train_acc[-1] for r in runs])), 2),
                "final train loss": round(float(np.mean([r.train_loss[-1] for r in runs])), 4),
                "gap (train − val) %": round(100 * gap, 2),
                "gap ±": round(100 * gap_sd, 2),
                "loss gap (val − train)": round(float(np.mean([r.loss_gap for r in runs])), 4),
                "best val acc ±": round(100 * best_sd, 2),
                "epochs": max(r.epochs[-1] for r in runs),
                "time s": round(float(np.mean([r.seconds for r in runs])), 2),
                "status": ", ".join(sorted({r.status for r in runs})),
            }
        )
    return rows


def near_zero_fraction(weights: np.ndarray, tol: float = 1e-3) -> float:
    """Share of weights with |w| < ``tol``: L1 piles weights up at 0, L2 shrinks them all proportionally."""
    return float(np.mean(np.abs(weights) < tol)) if len(weights) else math.nan


def stuck_at_chance(comparison: Comparison, num_classes: int) -> list[str]:
    """Configurations whose *training* accuracy is still near chance (≤ 1.5 / classes) after ≥ 3 epochs.

    A network that cannot even fit its training set has an optimisation
    problem (learning rate too low or too high, a deep sigmoid net without BN,
    too much dropout), not an overfitting one.
    """
    stuck = []
    for key, runs in comparison.by_variant().items():
        runs = [r for r in runs if r.status != "diverged" and len(r.epochs) > 3]
        if runs and float(np.mean([r.train_acc[-1] for r in runs])) <= 1.5 / num_classes:
            stuck.append(key)
    return stuck


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
