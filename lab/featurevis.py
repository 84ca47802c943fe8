"""Feature visualisation: what image makes one channel fire? (Olah et al., Lucid / OpenAI Microscope.)

Start from faint noise and do gradient *ascent* on the input pixels to
maximise one channel's mean pre-ReLU activation, with random jitter (shifting the image
a few pixels every step) so the result is not a high-frequency trick that only
works at one alignment. The network's weights never change: the only tensor
being optimised is the image, and gradients are taken with
``torch.autograd.grad(…, [image])`` so parameter ``.grad`` stays untouched.

A simple version of Lucid's recipe (no FFT/decorrelated parameterisation): on
an untrained network it shows what random filters respond to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lab.device import large_work
from lab.inception import IMAGENET_MEAN, IMAGENET_STD, Capture, run_network
from lab.params import Param
from lab.training import History, Progress, run_steps

SPECS: tuple[Param, ...] = (
    Param(
        "fv_steps",
        "Optimisation steps",
        200,
        kind="int",
        lo=10,
        hi=600,
        step=10,
        help="Gradient-ascent steps on the image (a few hundred give a clear pattern).",
    ),
    Param(
        "fv_size",
        "Image size (px)",
        128,
        kind="int",
        lo=64,
        hi=224,
        step=16,
        help="Smaller is faster; 128 px is enough for blocks up to 4e.",
    ),
    Param("fv_lr", "Learning rate α", 0.05, kind="log", lo=1e-3, hi=0.5),
    Param(
        "fv_jitter",
        "Jitter (px)",
        8,
        kind="int",
        lo=0,
        hi=32,
        step=1,
        help="Random shift each step; 0 turns it off (the result gets noisier).",
    ),
)


@dataclass(frozen=True)
class FeatureVisConfig:
    layer: str = "inception4c"  # block (or conv layer) whose channel to excite
    channel: int = 0  # channel index in that layer's output
    fv_steps: int = 200  # optimisation steps
    fv_size: int = 128  # side of the optimised image
    fv_lr: float = 0.05  # Adam learning rate on the (normalised) pixels
    fv_jitter: int = 8  # max random shift in pixels per step
    seed: int = 0  # noise initialisation and jitter


@dataclass
class FeatureVis:
    """The optimised image and how the activation grew."""

    image: np.ndarray  # (S, S, 3) uint8
    history: History  # metrics "loss" (= −activation) and "activation" per step
    config: FeatureVisConfig

    @property
    def partial(self) -> bool:
        """True for a preview of an unfinished run (or one that was stopped)."""
        return self.history.status != "finished"


def _bounds(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return (0 - mean) / std, (1 - mean) / std


def to_uint8(X: torch.Tensor) -> np.ndarray:
    """ImageNet-normalised (1, 3, S, S) → (S, S, 3) uint8 pixels."""
    mean = torch.tensor(IMAGENET_MEAN, device=X.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=X.device).view(1, 3, 1, 1)
    pixels = (X.detach() * std + mean).clamp(0, 1)[0].permute(1, 2, 0)
    return (pixels.cpu().numpy() * 255 + 0.5).astype(np.uint8)


@large_work  # a hot path: the compute policy picks its threads (lab.device)
def visualise_channel(
    model: nn.Module,
    config: FeatureVisConfig,
    *,
    device: str = "cpu",
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_preview: Callable[[FeatureVis], None] | None = None,
    preview_every: int = 10,
) -> FeatureVis:
    """Optimise an image so that ``config.layer``'s channel ``config.channel`` fires as much as possible.

    ``on_preview`` gets the run so far every ``preview_every`` steps, as a
    :class:`FeatureVis` whose ``history.status`` is ``"running"``: a caller that
    is interrupted (a Streamlit rerun) keeps a result that says it is partial.
    """
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    X = (0.1 * torch.randn(1, 3, config.fv_size, config.fv_size, generator=gen)).to(device).requires_grad_(True)
    lo, hi = _bounds(device)
    opt = torch.optim.Adam([X], lr=config.fv_lr)
    shifts = torch.randint(-config.fv_jitter, config.fv_jitter + 1, (config.fv_steps, 2), generator=gen).tolist()
    # Maximise the *pre-ReLU* activation (Lucid's "mixed4c_pre_relu"): after the ReLU a channel that is
    # off everywhere has zero gradient and the optimisation could never start.
    capture = Capture(pre_relu=(config.layer,), stop_at=config.layer)
    key = f"{config.layer}.pre"

    def step(i: int) -> dict[str, float]:
        dy, dx = shifts[i % len(shifts)]
        with torch.enable_grad():
            shifted = torch.roll(X, shifts=(dy, dx), dims=(2, 3))  # (1, 3, S, S)
            _, acts = run_network(model, shifted, capture)
            activation = acts[key][0, config.channel].mean()
            loss = -activation
            (grad,) = torch.autograd.grad(loss, [X])
        opt.zero_grad(set_to_none=True)
        X.grad = grad
        opt.step()
        with torch.no_grad():
            X.copy_(torch.max(torch.min(X, hi), lo))  # stay a valid image
        if on_preview is not None and (i + 1) % max(1, preview_every) == 0 and i + 1 < config.fv_steps:
            metrics = {k: list(v) for k, v in history.metrics.items()}
            partial = History(metrics, list(history.steps), completed_steps=i + 1, status="running")
            on_preview(FeatureVis(to_uint8(X), partial, config))
        return {"loss": float(loss.detach()), "activation": float(activation.detach())}

    history = History()
    history = run_steps(
        step, config.fv_steps, on_progress=on_progress, should_stop=should_stop, progress_every=5, history=history
    )
    return FeatureVis(to_uint8(X), history, config)
