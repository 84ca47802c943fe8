"""Logistic regression trained by gradient descent — written by hand, checked by autograd.

The lecture's first slides, in code:

- the model   P(y=1 | x) = σ(w·x + b)                          (:func:`predict_proba`)
- the loss    L = −Σ yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)  (+ λ/2 ‖w‖²)   (:func:`loss`)
- its gradient ∂L/∂w = Σ (pᵢ − yᵢ) xᵢ (+ λw),  ∂L/∂b = Σ (pᵢ − yᵢ)  (:func:`manual_gradient`)
- the update  θ ← θ − α ∂L/∂θ, and its cousins mini-batch SGD, momentum and Adam (:func:`train`).

The slide sums over the N points (``reduction="sum"``, the default here, and
what scikit-learn does); PyTorch's losses default to the *mean*, which divides
the gradient by N (or by the batch size) — the same α then takes N× smaller
steps. Both are offered; every function takes ``reduction=``. Everything is
taught twice: the gradient by hand vs autograd (:func:`check_gradient`), the optimisers by hand vs ``torch.optim`` (the "show
me the code" snippet, which tests execute).

Training records the whole trajectory — weights, bias, gradient and loss at
every step — so a page can scrub through it without retraining, draw it on the
loss landscape (:func:`loss_landscape`) and compare optimisers from one start.

The lab is a package, one concept per module; ``from lab import logistic`` gives
all of it:

- :mod:`lab.logistic.config` — optimisers, :class:`TrainConfig`, the widget specs;
- :mod:`lab.logistic.model` — model, loss, gradient by hand vs autograd, :func:`train`;
- :mod:`lab.logistic.landscape` — P(y=1|x) over the plane, the loss over (w₁, w₂);
- :mod:`lab.logistic.plots` — the landscape, curves and scrubbing figures;
- :mod:`lab.logistic.snippet` — "show me the code";
- :mod:`lab.logistic.words` — hints and maths for the page.
"""

from lab.logistic.config import (
    ADAM_BETAS,
    ADAM_EPS,
    CURVE_TABS,
    DATA_SPECS,
    FEATURE_SPECS,
    GENERATOR_PARAMS,
    OPTIMIZER_LABELS,
    OPTIMIZERS,
    REDUCTIONS,
    SPECS,
    START_SPECS,
    STEP_QUERY_KEY,
    TAB_QUERY_KEY,
    TRAIN_SPECS,
    VIEW_SPECS,
    WEIGHT_DECAYS,
    TrainConfig,
    opening_step,
    step_from_link,
    upgrade_link,
)
from lab.logistic.landscape import (
    Landscape,
    landscape_around,
    landscape_window,
    loss_landscape,
    probability_map,
)
from lab.logistic.model import (
    GradientCheck,
    Trajectory,
    _batches,
    autograd_gradient,
    bce_from_logits,
    check_gradient,
    check_gradient_on,
    evaluate,
    loss,
    manual_gradient,
    predict_proba,
    sklearn_C,
    train,
    train_dataset,
)
from lab.logistic.plots import OPTIMIZER_COLORS, OPTIMIZER_SHORT, PATH_COLORS, curves_figure, landscape_figure
from lab.logistic.scrub import frame_steps, key_text, level_lines, logit_maps, move_to_step, scrub_figure
from lab.logistic.snippet import SNIPPET, snippet
from lab.logistic.words import (
    LossParts,
    display_name,
    divergence_hint,
    latex_loss_relation,
    latex_model,
    latex_number,
    latex_vector,
    loss_parts,
    oscillation_hint,
)

__all__ = [
    "ADAM_BETAS",
    "ADAM_EPS",
    "CURVE_TABS",
    "DATA_SPECS",
    "FEATURE_SPECS",
    "GENERATOR_PARAMS",
    "OPTIMIZERS",
    "OPTIMIZER_COLORS",
    "OPTIMIZER_LABELS",
    "OPTIMIZER_SHORT",
    "PATH_COLORS",
    "REDUCTIONS",
    "SNIPPET",
    "SPECS",
    "START_SPECS",
    "STEP_QUERY_KEY",
    "TAB_QUERY_KEY",
    "TRAIN_SPECS",
    "VIEW_SPECS",
    "WEIGHT_DECAYS",
    "GradientCheck",
    "Landscape",
    "LossParts",
    "TrainConfig",
    "Trajectory",
    "_batches",
    "autograd_gradient",
    "bce_from_logits",
    "check_gradient",
    "check_gradient_on",
    "curves_figure",
    "display_name",
    "divergence_hint",
    "evaluate",
    "frame_steps",
    "key_text",
    "landscape_around",
    "landscape_figure",
    "landscape_window",
    "latex_loss_relation",
    "latex_model",
    "latex_number",
    "latex_vector",
    "level_lines",
    "logit_maps",
    "loss",
    "loss_landscape",
    "loss_parts",
    "manual_gradient",
    "move_to_step",
    "opening_step",
    "oscillation_hint",
    "predict_proba",
    "probability_map",
    "scrub_figure",
    "sklearn_C",
    "snippet",
    "step_from_link",
    "train",
    "train_dataset",
    "upgrade_link",
]
