"""The MLP lab's settings: frozen config dataclasses and the widget specs that fill them."""

from __future__ import annotations

from dataclasses import dataclass

from lab import data2d
from lab.mlp_model import ACTIVATION_LABELS, ACTIVATIONS, FEATURE_LABELS, FEATURES
from lab.params import Param

# --- configuration ------------------------------------------------------------------

OPTIMIZERS = ("sgd", "momentum", "adam")
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
SCHEDULES = ("constant", "step", "exponential", "cosine")
SCHEDULE_LABELS = {
    "constant": "constant",
    "step": "step: ÷2 every 100 epochs",
    "exponential": "exponential: ×0.99 per epoch",
    "cosine": "cosine to 0 over the epochs",
}
LOSSES = ("ce", "mse")
LOSS_LABELS = {"ce": "cross-entropy", "mse": "squared error (MSE)"}
#: TensorFlow Playground's learning rates: the slider's stops.
PLAYGROUND_LRS = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
DATASET_CHOICES = ("circles", "xor", "gaussian", "spiral", "moons", "blobs", "plane", "multi_gaussian")


@dataclass(frozen=True)
class DataConfig:
    """Which points to learn from."""

    dataset: str = "circles"  # a lab.data2d dataset name
    n: int = 300  # number of points (train + test)
    noise: float = 0.05  # Gaussian jitter, data units
    train_fraction: float = 0.5  # share of points used for training
    num_classes: int = 2  # spiral arms / blobs (others are binary)
    seed: int = 0  # data generation and the train/test split


@dataclass(frozen=True)
class NetConfig:
    """The network's shape and starting point."""

    features: tuple[str, ...] = ("x1", "x2")  # input features (keys of FEATURES)
    hidden: tuple[int, ...] = (4, 2)  # neurons per hidden layer (empty: logistic regression)
    activations: tuple[str, ...] = ("tanh", "tanh")  # activation of each hidden layer
    init: str = "xavier"  # a lab.init scheme
    sigma: float = 0.01  # std of the "normal" init
    constant: float = 0.1  # value of the "constant" init


@dataclass(frozen=True)
class TrainConfig:
    """How the network learns."""

    loss: str = "ce"  # "ce" (cross-entropy) or "mse"; regression always uses MSE
    optimizer: str = "sgd"  # sgd / momentum / adam
    lr: float = 0.03  # learning rate α
    momentum: float = 0.9  # β for "momentum"
    schedule: str = "constant"  # learning-rate schedule, stepped once per epoch
    num_epochs: int = 200  # epochs per "Train" click (and the cosine schedule's length)
    l1: float = 0.0  # L1 rate: adds l1·Σ|w| (weights, not biases)
    l1_clip: bool = True  # L1 as Playground's proximal step: a weight the L1 step would push across 0 is set to 0
    l2: float = 0.0  # L2 rate: adds (l2/2)·Σw², gradient l2·w (= weight_decay, = Playground's L2)
    batch_size: int = 10  # points per gradient step


DATA_SPECS = (
    Param("dataset", "Dataset", "circles", kind="choice", options=DATASET_CHOICES, labels=data2d.LABELS),
    Param(
        "num_classes",
        "Classes (spiral arms / blobs)",
        2,
        kind="int",
        lo=2,
        hi=6,
        help="More than 2 classes: a softmax output with one unit (and one map) per class.",
    ),
    Param(
        "noise", "Noise", 0.05, kind="float", lo=0.0, hi=0.5, step=0.01, help="Std of the jitter added to each point."
    ),
    Param(
        "train_fraction",
        "Training share",
        0.5,
        kind="float",
        lo=0.1,
        hi=0.9,
        step=0.1,
        help="Share of the points the network learns from; the rest (hollow markers) only measure it.",
    ),
    Param("n", "Points", 300, kind="int", lo=50, hi=2000, step=50, help="Points generated (train + test)."),
)
FEATURE_SPECS = (
    Param(
        "features",
        "Input features",
        ("x1", "x2"),
        kind="multi",
        options=tuple(FEATURES),
        labels=FEATURE_LABELS,
        help="Playground's hand-made inputs. With X₁, X₂ only, the hidden layers must learn the rest.",
    ),
    Param("layers", "Hidden layers", 2, kind="int", lo=0, hi=6, help="0 hidden layers = logistic regression."),
)


def layer_specs(i: int) -> tuple[Param, Param]:
    """Width and activation specs of hidden layer ``i`` (1-based)."""
    default_width = (4, 2, 4, 4, 4, 4)[i - 1]
    return (
        Param(
            f"w{i}", f"Layer {i} neurons", default_width, kind="int", lo=1, hi=32, help="Units in this hidden layer."
        ),
        Param(
            f"a{i}",
            f"Layer {i} activation",
            "tanh",
            kind="choice",
            options=tuple(ACTIVATIONS),
            labels=ACTIVATION_LABELS,
            help="The nonlinearity after this layer. Identity everywhere = the layers collapse into one linear map.",
        ),
    )


TRAIN_SPECS = (
    Param(
        "lr",
        "Learning rate α",
        0.03,
        kind="log",
        lo=1e-5,
        hi=10.0,
        options=PLAYGROUND_LRS,  # the slider's ladder (not 1-2-5): Playground's values
        help="Step size of θ ← θ − α ∂L/∂θ. Too high diverges. Playground's ladder of values.",
    ),
    Param(
        "optimizer",
        "Optimiser",
        "sgd",
        kind="choice",
        options=OPTIMIZERS,
        labels=OPTIMIZER_LABELS,
        help="SGD: plain steps. Momentum (β = 0.9): steps keep part of their previous direction. Adam: per-weight "
        "step sizes from running gradient statistics.",
    ),
    Param(
        "schedule",
        "LR schedule",
        "constant",
        kind="choice",
        options=SCHEDULES,
        labels=SCHEDULE_LABELS,
        help="How α changes from epoch to epoch (stepped once per epoch).",
    ),
    Param("loss", "Loss", "ce", kind="choice", options=LOSSES, labels=LOSS_LABELS, help="Regression always uses MSE."),
    Param(
        "batch_size",
        "Batch size",
        10,
        kind="int",
        lo=1,
        hi=128,
        help="Points per gradient step; an epoch is one pass over the training set.",
    ),
    Param("num_epochs", "Epochs per Train click", 200, kind="int", lo=10, hi=5000, step=10),
    Param(
        "l1",
        "L1 rate",
        0.0,
        kind="float",
        lo=0.0,
        hi=0.1,
        step=0.001,
        help="Adds l1·Σ|w| (weights, not biases). With **clip at zero** on, weights reach exactly 0 and their links "
        "die (dotted in the drawing); with plain (sub)gradient steps they only hover near 0.",
    ),
    Param(
        "l1_clip",
        "L1: clip at zero (proximal step)",
        True,
        kind="bool",
        help="As Playground: after each step, every weight moves lr·l1 towards 0 and is set to exactly 0 if that "
        "step would cross 0 (the proximal step of l1·|w|). Off: the L1 gradient l1·sign(w) is added to the loss "
        "gradient, and weights jitter around 0 without reaching it.",
    ),
    Param(
        "l2",
        "L2 rate",
        0.0,
        kind="float",
        lo=0.0,
        hi=0.1,
        step=0.001,
        help="Adds (l2/2)·Σw², whose gradient is l2·w: the same number as PyTorch's weight_decay and Playground's "
        "L2. With Adam this *coupled* L2 gradient is rescaled per weight, so it is not weight decay "
        "(decoupled decay is AdamW).",
    ),
)


def make_data(cfg: DataConfig) -> data2d.Dataset2D:
    """Generate (seeded) and split the dataset of ``cfg``."""
    return data2d.make_dataset(cfg.dataset, cfg.n, cfg.noise, cfg.train_fraction, cfg.seed, cfg.num_classes)
