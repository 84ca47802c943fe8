"""Augmentation as a regulariser: the same small CNN, with and without augmentation.

A few hundred 8×8 digits (scikit-learn's bundled set via ``lab.digits``, no
download) are too few for a CNN: it memorises them and validation accuracy
stalls. Showing it randomly rotated, shifted, zoomed and noisy copies every
epoch is like having more data. Both runs start from the same weights and see
the same mini-batches in the same order (seeded); the only difference is the
augmentation, so the gap between their validation curves *is* its effect.

The augmentation is applied to a whole mini-batch at once, with different
random parameters per digit: one ``affine_grid`` + ``grid_sample`` call
(written out in :func:`affine_batch`; the tests check it against
``torchvision.transforms.v2.functional.affine``, one image at a time). This is
what makes a training run take seconds rather than minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lab.augment_rng import private_rng
from lab.device import single_thread
from lab.digits import load_digits_arrays
from lab.params import Param
from lab.training import History, Progress, run_steps

VAL_SIZE = 600  # validation digits: enough for ±2 % resolution, cheap to evaluate every epoch

TRAIN_SPECS: tuple[Param, ...] = (
    Param(
        "tr_train_size",
        "training digits",
        100,
        kind="int",
        lo=50,
        hi=1000,
        step=50,
        help="A small training set overfits: that is where augmentation helps.",
    ),
    Param("tr_epochs", "epochs", 60, kind="int", lo=5, hi=150, step=5),
    Param("tr_rotate", "rotation ±°", 15, kind="int", lo=0, hi=90, step=1),
    Param("tr_shift", "shift ± (pixels of 16)", 2.0, lo=0.0, hi=6.0, step=0.5),
    Param("tr_zoom", "zoom ± (fraction)", 0.15, lo=0.0, hi=0.4, step=0.05),
    Param("tr_noise", "noise σ", 0.1, lo=0.0, hi=0.5, step=0.05),
    Param(
        "tr_hflip",
        "mirror (wrong!)",
        False,
        kind="bool",
        help="A mirrored 2 or 7 is not a digit: this augmentation hurts.",
    ),
)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the with/without-augmentation comparison."""

    tr_train_size: int = 100  # digits used for training; others validate
    tr_epochs: int = 60  # passes over the training digits
    tr_rotate: int = 15  # max rotation ±degrees
    tr_shift: float = 2.0  # max shift ±pixels (images are upsampled to 16×16)
    tr_zoom: float = 0.15  # zoom in [1 − z, 1 + z]
    tr_noise: float = 0.1  # std of added Gaussian noise (pixels are in [0, 1])
    tr_hflip: bool = False  # mirror half the digits (a bad idea — try it)
    batch_size: int = 20
    lr: float = 3e-3  # Adam
    seed: int = 0


def load_digits_split(train_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(X_train (n,1,16,16), y_train (n,), X_val (m,1,16,16), y_val (m,))``, pixels in [0, 1], seeded split.

    The 8×8 digits are upsampled once to 16×16 (bilinear): at 8×8 every
    rotation or sub-pixel shift blurs whole strokes away and augmentation
    hurts more than it helps.

    The training set is stratified (the same number of each digit, ±1); the
    validation set is :data:`VAL_SIZE` of the other digits (of the 1,797).
    """
    pixels, labels = load_digits_arrays()
    X = torch.from_numpy(pixels).reshape(-1, 1, 8, 8)  # (1797, 1, 8, 8) in [0, 1]
    X = F.interpolate(X, size=(16, 16), mode="bilinear", align_corners=False).clamp(0.0, 1.0)
    y = torch.from_numpy(labels)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    # Round-robin over classes so a small training set still has every digit.
    by_class = [perm[y[perm] == c] for c in range(10)]
    order = torch.stack([idx[: min(len(i) for i in by_class)] for idx in by_class], dim=1).reshape(-1)
    train_idx = order[:train_size]
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[train_idx] = False
    val_idx = perm[mask[perm]][:VAL_SIZE]
    return X[train_idx], y[train_idx], X[val_idx], y[val_idx]


def affine_batch(X: torch.Tensor, angle: torch.Tensor, translate: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Rotate, shift and zoom every image of a batch by its own parameters, in one call.

    ``X`` (N, C, H, W) float; ``angle`` (N,) degrees (positive = counter-clockwise,
    torchvision's convention), ``translate`` (N, 2) pixels (x right, y down),
    ``scale`` (N,). Bilinear, zeros outside — the same as
    ``v2.functional.affine(X[i], angle, translate, scale, shear=[0, 0],
    interpolation=BILINEAR)`` for each ``i`` (tested).

    ``grid_sample`` asks, for every output pixel, where to read in the input:
    the inverse map ``p_in = (s R)⁻¹ (p_out − t)`` about the image centre, in
    pixel units (so non-square images work), then normalised to [-1, 1].
    """
    _, _, h, w = X.shape
    a = torch.deg2rad(angle.to(X.dtype))
    cos, sin = torch.cos(a) / scale, torch.sin(a) / scale
    # Inverse of a counter-clockwise rotation in image coordinates (y down): R(−a)ᵀ = R(a) with y flipped.
    inv = torch.stack([torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1)  # (N, 2, 2) pixel units
    t = translate.to(X.dtype)
    offset = -(inv @ t.unsqueeze(2)).squeeze(2)  # (N, 2) pixels
    # Pixel units → normalised units (x by W/2, y by H/2) on both sides of the map.
    to_norm = torch.tensor([2.0 / w, 2.0 / h], dtype=X.dtype)
    from_norm = torch.tensor([w / 2.0, h / 2.0], dtype=X.dtype)
    theta = torch.cat([inv * to_norm[None, :, None] * from_norm[None, None, :], (offset * to_norm).unsqueeze(2)], 2)
    grid = F.affine_grid(theta, list(X.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(X, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_batch(X: torch.Tensor, config: TrainConfig, g: torch.Generator) -> torch.Tensor:
    """Random rotation, shift, zoom, optional mirror and noise, drawn per digit from ``g``. ``X`` (N,1,16,16)."""
    n = X.shape[0]

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    angle = uniform(-config.tr_rotate, config.tr_rotate, n)
    translate = uniform(-config.tr_shift, config.tr_shift, n, 2)
    scale = uniform(1 - config.tr_zoom, 1 + config.tr_zoom, n)
    flip = torch.rand(n, generator=g) < 0.5
    noise = torch.randn(X.shape, generator=g)
    out = affine_batch(X, angle, translate, scale)
    if config.tr_hflip:
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    if config.tr_noise > 0:
        out = (out + config.tr_noise * noise).clamp(0.0, 1.0)
    return out


class SmallCNN(nn.Module):
    """conv3×3(16) → ReLU → maxpool → conv3×3(32) → ReLU → maxpool → linear(10), for 16×16 digits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 16, 8, 8)
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 4, 4)
        )
        self.head = nn.Linear(32 * 4 * 4, 10)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(X).flatten(1))  # (N, 10) logits


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


class Run:
    """One training run that can be continued epoch by epoch: its model, optimiser, generators and history.

    All of its state lives in this object, so a run interrupted between epochs
    (a page rerun) continues where it stopped and ends exactly as an
    uninterrupted run (tested). Every draw (initial weights, batch order,
    augmentation) comes from a private generator, so runs in other sessions at
    the same time cannot change it.
    """

    def __init__(self, config: TrainConfig, *, augment: bool, device: str = "cpu", data=None) -> None:
        self.config, self.augment, self.device = config, augment, device
        data = data if data is not None else load_digits_split(config.tr_train_size, config.seed)
        self.X_train, self.y_train, self.X_val, self.y_val = (t.to(device) for t in data)
        with private_rng(config.seed):  # PyTorch's default init, drawn as after torch.manual_seed(seed), privately
            self.model = SmallCNN().to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.order_g = torch.Generator().manual_seed(config.seed + 1)
        self.aug_g = torch.Generator().manual_seed(config.seed + 2)
        self.history = History()

    @property
    def epoch(self) -> int:
        """Epochs completed so far."""
        return self.history.completed_steps

    @property
    def done(self) -> bool:
        """All epochs trained, or stopped for good (diverged)."""
        return self.epoch >= self.config.tr_epochs or self.history.status == "diverged"

    def _epoch(self, step: int) -> dict[str, float]:
        model, config, n = self.model, self.config, len(self.y_train)
        model.train()
        perm = torch.randperm(n, generator=self.order_g)
        total = 0.0
        for start in range(0, n, config.batch_size):
            idx = perm[start : start + config.batch_size].to(self.device)
            X = self.X_train[idx]
            if self.augment:
                X = augment_batch(X.cpu(), config, self.aug_g).to(self.device)
            loss = F.cross_entropy(model(X), self.y_train[idx])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        return {
            "loss": total / n,
            "train_acc": accuracy(model, self.X_train, self.y_train),
            "val_acc": accuracy(model, self.X_val, self.y_val),
        }

    def advance(self, epochs: int | None = None, on_progress: Callable[[Progress], None] | None = None) -> History:
        """Train ``epochs`` more epochs (default: all that are left); ``on_progress`` after each one.

        The history records an epoch before ``on_progress`` is called, so an
        exception raised there (Streamlit stopping the script) leaves the run
        consistent, ready to continue.
        """
        left = self.config.tr_epochs - self.epoch
        count = left if epochs is None else max(0, min(epochs, left))
        if self.done or count == 0:
            return self.history
        # A tiny CNN: one thread is faster than two fighting over a busy CPU (see lab.device.single_thread).
        with single_thread(torch.device(self.device).type == "cpu"):
            run_steps(
                self._epoch,
                count,
                on_progress=on_progress,
                progress_every=1,
                start_step=self.epoch,
                history=self.history,
            )
        if not self.done and self.history.status == "finished":
            self.history.status = "running"  # more epochs to come
        return self.history


def train(
    config: TrainConfig,
    *,
    augment: bool,
    device: str = "cpu",
    on_progress: Callable[[Progress], None] | None = None,
) -> History:
    """Train :class:`SmallCNN` for ``config.tr_epochs`` epochs; one recorded step per epoch.

    Metrics per epoch: ``loss`` (mean training loss), ``train_acc`` (on the
    un-augmented training digits) and ``val_acc``. The same seed gives the same
    initial weights and mini-batch order with and without augmentation (:class:`Run`).
    """
    return Run(config, augment=augment, device=device).advance(on_progress=on_progress)


@dataclass
class Comparison:
    """Two runs that differ only in augmentation."""

    plain: History
    augmented: History

    def final(self, history: History, metric: str = "val_acc", last: int = 5) -> float:
        """Mean of the last ``last`` epochs (less noisy than the very last)."""
        values = history.metrics.get(metric, [])
        return float(np.mean(values[-last:])) if values else math.nan

    @property
    def gain(self) -> float:
        """Validation accuracy with augmentation minus without (mean of the last 5 epochs), in points."""
        return self.final(self.augmented) - self.final(self.plain)

    @property
    def gap_plain(self) -> float:
        """Train − validation accuracy without augmentation: how much it overfits."""
        return self.final(self.plain, "train_acc") - self.final(self.plain)

    @property
    def gap_augmented(self) -> float:
        return self.final(self.augmented, "train_acc") - self.final(self.augmented)


class Comparer:
    """Both runs of the comparison, trained side by side one epoch at a time (resumable, see :class:`Run`).

    Epoch k of the run without augmentation, then epoch k of the run with it:
    the runs share nothing (each has its own generators), so this gives the
    same two histories as training one after the other, and a comparison that
    is stopped half way still compares like with like.
    """

    NAMES = ("without augmentation", "with augmentation")

    def __init__(self, config: TrainConfig, *, device: str = "cpu") -> None:
        self.config, self.device = config, device
        data = load_digits_split(config.tr_train_size, config.seed)
        self.plain = Run(config, augment=False, device=device, data=data)
        self.augmented = Run(config, augment=True, device=device, data=data)

    @property
    def runs(self) -> dict[str, Run]:
        return dict(zip(self.NAMES, (self.plain, self.augmented), strict=True))

    @property
    def epoch(self) -> int:
        """Epochs that both runs have completed."""
        return min(self.plain.epoch, self.augmented.epoch)

    @property
    def done(self) -> bool:
        return self.plain.done and self.augmented.done

    def advance(self, epochs: int | None = None, on_progress: Callable[[str, Progress], None] | None = None) -> None:
        """Train both runs ``epochs`` more epochs each (default: to the end); ``on_progress(run_name, progress)``."""
        target = self.config.tr_epochs if epochs is None else self.epoch + epochs
        while True:
            behind = [(name, run) for name, run in self.runs.items() if not run.done and run.epoch < target]
            if not behind:
                return
            for name, run in behind:
                cb = (lambda p, _n=name: on_progress(_n, p)) if on_progress else None
                run.advance(1, on_progress=cb)

    def comparison(self) -> Comparison:
        """The two histories so far (complete once :attr:`done`)."""
        return Comparison(self.plain.history, self.augmented.history)


def compare(
    config: TrainConfig,
    *,
    device: str = "cpu",
    on_progress: Callable[[str, Progress], None] | None = None,
) -> Comparison:
    """Train without and with augmentation, epoch by epoch side by side; ``on_progress(run_name, progress)``."""
    comparer = Comparer(config, device=device)
    comparer.advance(on_progress=on_progress)
    return comparer.comparison()


def comparison_figure(result: Comparison):
    """Validation (solid) and training (dashed) accuracy per epoch, both runs."""
    from lab.figures import line_chart

    series = {}
    for label, h in (("without aug", result.plain), ("with aug", result.augmented)):
        epochs = h.steps
        series[f"val · {label}"] = (epochs, h.metrics.get("val_acc", []))
        series[f"train · {label}"] = (epochs, h.metrics.get("train_acc", []))
    fig = line_chart(
        series,
        "Accuracy per epoch: validation (solid) and training (dashed)",
        x_title="epoch",
        y_title="accuracy",
        dashed=("train · without aug", "train · with aug"),
    )
    colors = {"without aug": "#1f77b4", "with aug": "#d62728"}
    for trace in fig.data:
        trace.line.color = colors["with aug" if "with aug" in trace.name else "without aug"]
    return fig


def example_batch(config: TrainConfig, count: int = 8, upscale: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A few training digits and one augmented copy of each, as ``(16·u, 16·u)`` uint8 images."""
    X, _, _, _ = load_digits_split(max(count, config.tr_train_size), config.seed)
    X = X[:count]
    aug = augment_batch(X, config, torch.Generator().manual_seed(config.seed + 2))

    def to_img(t: torch.Tensor) -> np.ndarray:
        arr = (255 - t[0].numpy() * 255).clip(0, 255).astype(np.uint8)  # dark ink on white
        return np.kron(arr, np.ones((upscale, upscale), dtype=np.uint8))

    return [to_img(x) for x in X], [to_img(x) for x in aug]
