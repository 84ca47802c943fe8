"""A multilayer perceptron on 2D data: TensorFlow Playground, in PyTorch.

This module gathers the lab's public names (``from lab import mlp`` then
``mlp.Trainer``…); the code lives in one module per concept:

- :mod:`lab.mlp_model` — input features, :func:`build_mlp`, linear collapse,
  the symmetry meter, backprop by hand, the losses;
- :mod:`lab.mlp_config` — the frozen configs and the widget specs;
- :mod:`lab.mlp_train` — :class:`Trainer` (one student's run), L1's proximal
  step, grid outputs for the pictures, the backprop check;
- :mod:`lab.mlp_code` — "show me the code";
- :mod:`lab.mlp_formulas` — activation functions, the MLP formula with numbers,
  Xavier/He and the signal spread per layer at initialisation;
- :mod:`lab.mlp_figures` — the network drawing and the output maps.
"""

from __future__ import annotations

from lab.mlp_code import SNIPPET, code_snippet
from lab.mlp_config import (
    DATA_SPECS,
    DATASET_CHOICES,
    FEATURE_SPECS,
    LOSS_LABELS,
    LOSSES,
    OPTIMIZER_LABELS,
    OPTIMIZERS,
    PLAYGROUND_LRS,
    SCHEDULE_LABELS,
    SCHEDULES,
    TRAIN_SPECS,
    DataConfig,
    NetConfig,
    TrainConfig,
    layer_specs,
    make_data,
)
from lab.mlp_model import (
    ACTIVATION_LABELS,
    ACTIVATIONS,
    FEATURE_LABELS,
    FEATURES,
    SMALL_MODEL_PARAMS,
    Collapse,
    build_mlp,
    collapse_linear,
    collapse_two_layers_by_hand,
    data_loss,
    features,
    is_linear,
    layer_outputs,
    linear_layers,
    manual_gradients,
    output_delta,
    output_map,
    predict_classes,
    small_model_threads,
    symmetry_gaps,
)
from lab.mlp_train import (
    GradientCheck,
    GridOutputs,
    RegularisedWeights,
    Snapshot,
    Trainer,
    compare_l1_l2,
    gradient_check,
    l1_proximal_step,
    penalty_term,
)

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_LABELS",
    "DATASET_CHOICES",
    "DATA_SPECS",
    "FEATURES",
    "FEATURE_LABELS",
    "FEATURE_SPECS",
    "LOSSES",
    "LOSS_LABELS",
    "OPTIMIZERS",
    "OPTIMIZER_LABELS",
    "PLAYGROUND_LRS",
    "SCHEDULES",
    "SCHEDULE_LABELS",
    "SMALL_MODEL_PARAMS",
    "SNIPPET",
    "TRAIN_SPECS",
    "Collapse",
    "DataConfig",
    "GradientCheck",
    "GridOutputs",
    "NetConfig",
    "RegularisedWeights",
    "Snapshot",
    "TrainConfig",
    "Trainer",
    "build_mlp",
    "code_snippet",
    "collapse_linear",
    "collapse_two_layers_by_hand",
    "compare_l1_l2",
    "data_loss",
    "features",
    "gradient_check",
    "is_linear",
    "l1_proximal_step",
    "layer_outputs",
    "layer_specs",
    "linear_layers",
    "make_data",
    "manual_gradients",
    "output_delta",
    "output_map",
    "penalty_term",
    "predict_classes",
    "small_model_threads",
    "symmetry_gaps",
]
