"""Lab 1's settings: the optimisers, the training configuration and the widget specs the page builds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from lab import data2d, features
from lab.params import Param

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
        help="Adds λ/2 ‖w‖² to the loss (the bias is not penalised), as scikit-learn does. Its gradient λw joins "
        "the loss gradient; Adam then rescales that sum per weight, so with Adam this L2 is not weight decay "
        "(AdamW decouples it: w ← w − αλw besides the Adam step).",
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
#: The data settings that only the generated data use (an uploaded CSV ignores them).
GENERATOR_PARAMS = ("dataset", "n", "noise")

# --- link entries that are not widget specs: the step and the curves tab ---------------------------

STEP_QUERY_KEY = "step"
TAB_QUERY_KEY = "tab"
#: The curves tabs: link value → tab label.
CURVE_TABS = {"loss": "(c) Loss", "accuracy": "Accuracy"}


def opening_step(num_steps: int) -> int:
    """The step the page opens at: a tenth of the way in, so the boundary has formed and an update follows.

    Never the last state (it has no next update to show), except for a run with no update at all.
    """
    if num_steps <= 0:
        return 0
    return min(num_steps - 1, max(1, num_steps // 10))


def step_from_link(raw: str | None, num_steps: int) -> tuple[int | None, str | None]:
    """The link's ``step`` for a run of ``num_steps`` updates: ``(step, None)``, ``(None, None)`` when
    absent, or ``(None, problem)`` in words that do not repeat the value (it is user text)."""
    if raw is None:
        return None, None
    try:
        number = float(raw.strip())
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number == int(number) and 0 <= number <= num_steps):
        return (
            None,
            f"The link's {STEP_QUERY_KEY} is not a whole number from 0 to {num_steps}; showing the opening step.",
        )
    return int(number), None


def upgrade_link(query: Mapping[str, str]) -> dict[str, str] | None:
    """A link's query with Lab 1's old feature keys (``x1^2``, ``sin_x1``…) renamed to Lab 2's; ``None``
    when nothing changes."""
    raw = query.get("features")
    if raw is None:
        return None
    names = [n for n in raw.split(",") if n]
    new = ",".join(features.upgrade_names(names))
    if new == raw:
        return None
    out = {k: v for k, v in query.items() if k != "features"}
    if new:
        out["features"] = new
    return out


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
