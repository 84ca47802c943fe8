"""Words and maths for the page: why a run diverged or oscillates, and numbers for st.latex."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lab import features
from lab.logistic.config import TrainConfig
from lab.logistic.model import Trajectory


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


# --- the three losses on the page ------------------------------------------------------------------


@dataclass(frozen=True)
class LossParts:
    """The losses the page shows at one step, and how they relate.

    The *Train loss* metric and the curves show the mean BCE ℓ̄ = (1/N) Σ ℓᵢ (so
    train and test compare). The optimiser minimises L: with ``reduction="sum"``
    (the slide) L = N·ℓ̄ + λ/2 ‖w‖²; with ``"mean"`` L = ℓ̄ + λ/2 ‖w‖².
    """

    n: int  # training points N
    mean_bce: float  # ℓ̄, the "Train loss" metric
    l2: float  # λ/2 ‖w‖² (0 without L2)
    reduction: str  # "sum" or "mean"

    @property
    def data_term(self) -> float:
        """The cross-entropy part of L: N·ℓ̄ (sum) or ℓ̄ (mean)."""
        return self.n * self.mean_bce if self.reduction == "sum" else self.mean_bce

    @property
    def objective(self) -> float:
        """L, the number the maths section shows and gradient descent lowers."""
        return self.data_term + self.l2


def loss_parts(run: Trajectory, step: int, n_train: int) -> LossParts:
    """:class:`LossParts` of state ``step`` of ``run`` trained on ``n_train`` points."""
    w = np.asarray(run.w[step], dtype=np.float64)
    return LossParts(
        n=int(n_train),
        mean_bce=float(run.train_loss[step]),
        l2=0.5 * float(run.config.weight_decay) * float(w @ w),
        reduction=run.config.reduction,
    )


def latex_loss_relation(parts: LossParts) -> str:
    """L written from the mean BCE with the numbers, e.g. ``L = N·ℓ̄ = 140 × 0.259 = 36.3``."""
    l2 = parts.l2 != 0
    if parts.reduction == "sum":
        symbols, numbers = r"N \cdot \bar\ell", rf"{parts.n} \times {latex_number(parts.mean_bce, 6)}"
    else:
        symbols, numbers = r"\bar\ell", latex_number(parts.mean_bce, 6)
    if l2:
        symbols += r" + \tfrac{\lambda}{2}\lVert w \rVert^2"
        numbers += f" + {latex_number(parts.l2, 4)}"
    return rf"L = {symbols} = {numbers} = {latex_number(parts.objective, 4)}"


def display_name(name: str, limit: int = 60) -> str:
    """A file name safe to show in Markdown: one line, cut to ``limit`` characters, punctuation escaped.

    An upload's name is user text: unescaped, ``[x](http://…)`` would become a link on the page.
    """
    name = " ".join(str(name).split())
    if len(name) > limit:
        name = name[: limit - 1] + "…"
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&;\"'])", r"\\\1", name)
