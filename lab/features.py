"""Hand-made features: the lecture's answer to "a linear model cannot bend".

A logistic regression draws a straight boundary w·x + b = 0 in whatever space
it is given. Give it x₁² and x₂² as extra inputs and a straight line in the
space (x₁, x₂, x₁², x₂²) is a circle back in the plane: the model is still
linear in its weights, only the *features* are curved. TensorFlow Playground
offers the same set of inputs.

The two raw coordinates always come first, so ``w[0], w[1]`` are the weights of
x₁ and x₂ (the loss-landscape plot uses them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Feature:
    """One hand-made input computed from the two coordinates."""

    label: str  # how the page and the maths write it (unicode)
    latex: str  # how st.latex writes it
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x1 (N,), x2 (N,)) -> (N,)
    code: str  # the same in a plain-PyTorch snippet, using x1 and x2


#: Extra features a student can add (key → definition). x₁ and x₂ are always in. The keys
#: are Lab 2's (``lab.mlp.FEATURES``), so ``?features=x1sq,x2sq`` means the same in both
#: labs' links, and sin uses π·x like Lab 2 and Playground: the data live in about [−1, 1],
#: where plain sin x ≈ x would add almost nothing.
FEATURES: dict[str, Feature] = {
    "x1sq": Feature("x₁²", "x_1^2", lambda x1, x2: x1**2, "x1 ** 2"),
    "x2sq": Feature("x₂²", "x_2^2", lambda x1, x2: x2**2, "x2 ** 2"),
    "x1x2": Feature("x₁x₂", "x_1 x_2", lambda x1, x2: x1 * x2, "x1 * x2"),
    "sin1": Feature("sin(πx₁)", r"\sin(\pi x_1)", lambda x1, x2: torch.sin(math.pi * x1), "torch.sin(math.pi * x1)"),
    "sin2": Feature("sin(πx₂)", r"\sin(\pi x_2)", lambda x1, x2: torch.sin(math.pi * x2), "torch.sin(math.pi * x2)"),
    "x1cube": Feature("x₁³", "x_1^3", lambda x1, x2: x1**3, "x1 ** 3"),
    "x2cube": Feature("x₂³", "x_2^3", lambda x1, x2: x2**3, "x2 ** 3"),
}
#: Keys of older links (before Lab 1 took Lab 2's names) → today's keys. The old
#: ``sin_x1`` meant sin x₁; it now reads as ``sin1``, sin(πx₁).
LEGACY_KEYS = {"x1^2": "x1sq", "x2^2": "x2sq", "sin_x1": "sin1", "sin_x2": "sin2", "x1^3": "x1cube", "x2^3": "x2cube"}
RAW = (Feature("x₁", "x_1", lambda x1, x2: x1, "x1"), Feature("x₂", "x_2", lambda x1, x2: x2, "x2"))


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """The extra feature keys in the canonical order; raises ``ValueError`` on an unknown key."""
    bad = [n for n in names if n not in FEATURES]
    if bad:
        raise ValueError(f"unknown feature(s) {bad}; choose from {list(FEATURES)}")
    return tuple(n for n in FEATURES if n in names)


def upgrade_names(names: Sequence[str]) -> tuple[str, ...]:
    """Old link keys (``x1^2``, ``sin_x1``…) replaced by today's; other names are left as they are."""
    return tuple(LEGACY_KEYS.get(n, n) for n in names)


def used(names: Sequence[str]) -> tuple[Feature, ...]:
    """The features of a model: x₁, x₂, then the chosen extras in canonical order."""
    return RAW + tuple(FEATURES[n] for n in check_names(names))


def labels(names: Sequence[str]) -> list[str]:
    """Display names of every input of the model, e.g. ``["x₁", "x₂", "x₁²"]``."""
    return [f.label for f in used(names)]


def expand(X: torch.Tensor, names: Sequence[str] = ()) -> torch.Tensor:
    """Points ``X`` (N, 2) → the model's inputs ``Phi`` (N, 2 + k): x₁, x₂, then the chosen extras."""
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"expected points of shape (N, 2), got {tuple(X.shape)}")
    x1, x2 = X[:, 0], X[:, 1]
    return torch.stack([f.fn(x1, x2) for f in used(names)], dim=1)
