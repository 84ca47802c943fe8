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

The lab is split along its concepts; this module re-exports all of them, so
``from lab import regularization as reg`` gives the whole lab:

- :mod:`lab.regularization_config` — the configurations (variants), ``CompareConfig``, widget specs, presets;
- :mod:`lab.regularization_models` — the MLP / CNN, identical initial weights, the optimiser (L2);
- :mod:`lab.regularization_train` — ``compare``, results, the vanishing-gradient profile, table and CSV;
- :mod:`lab.regularization_figures` — the page's plotly figures;
- :mod:`lab.regularization_snippet` — "show me the code".
"""

from __future__ import annotations

from lab.regularization_config import (
    ACTIVATIONS,
    BN_TRACE_UNITS,
    MODEL_LABELS,
    MODELS,
    PRESET_HELP,
    PRESET_LABEL,
    PRESET_TEXT,
    PRESETS,
    PROBE_SIZE,
    QUANTILES,
    SPECS,
    VARIANTS,
    CompareConfig,
    Variant,
)
from lab.regularization_figures import (
    VARIANT_COLORS,
    activation_figure,
    bias_figure,
    bn_stats_figure,
    curves_figure,
    grad_norm_figure,
    gradient_profile_figure,
    weight_histogram_figure,
)
from lab.regularization_models import (
    CNN,
    INITS,
    MLP,
    Model,
    build_model,
    init_linears_,
    make_optimizer,
    parametrize_active,
    weight_tensors,
)
from lab.regularization_snippet import SNIPPET, snippet
from lab.regularization_train import (
    Comparison,
    RunResult,
    activation_spread,
    compare,
    curves_csv,
    finalize_partial,
    gradient_profile,
    near_zero_fraction,
    stuck_at_chance,
    summary,
)

__all__ = [
    "ACTIVATIONS",
    "BN_TRACE_UNITS",
    "CNN",
    "INITS",
    "MLP",
    "MODELS",
    "MODEL_LABELS",
    "PRESETS",
    "PRESET_HELP",
    "PRESET_LABEL",
    "PRESET_TEXT",
    "PROBE_SIZE",
    "QUANTILES",
    "SNIPPET",
    "SPECS",
    "VARIANTS",
    "VARIANT_COLORS",
    "CompareConfig",
    "Comparison",
    "Model",
    "RunResult",
    "Variant",
    "activation_figure",
    "activation_spread",
    "bias_figure",
    "bn_stats_figure",
    "build_model",
    "compare",
    "curves_csv",
    "curves_figure",
    "finalize_partial",
    "grad_norm_figure",
    "gradient_profile",
    "gradient_profile_figure",
    "init_linears_",
    "make_optimizer",
    "near_zero_fraction",
    "parametrize_active",
    "snippet",
    "stuck_at_chance",
    "summary",
    "weight_histogram_figure",
    "weight_tensors",
]
