"""Small classification datasets that ship offline, split to provoke overfitting (lab 4).

- ``digits``: scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10
  classes, pixel values 0–16 scaled to [0, 1]). No download: the CSV ships inside
  scikit-learn.
- ``spiral``: a synthetic 2D three-arm spiral (``lab.data2d``) for quick runs.
- ``mnist`` / ``fashion_mnist``: only when the torchvision files are already on
  disk (see :data:`DATA_DIRS`); never downloaded.

A *small* training subset (100–500 samples) and a held-out validation set make
"hardcore overfitting" visible: a big MLP memorises the training set (≈100 %
train accuracy) while validation accuracy lags behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATASETS = ("digits", "spiral", "mnist", "fashion_mnist")
LABELS = {
    "digits": "8×8 digits (scikit-learn, 1,797 images)",
    "spiral": "2D spiral, 3 classes (synthetic, fast)",
    "mnist": "MNIST 28×28 (only if on disk)",
    "fashion_mnist": "Fashion-MNIST 28×28 (only if on disk)",
}
#: Folders searched for torchvision's MNIST / FashionMNIST files (``<dir>/MNIST/raw/…``).
DATA_DIRS = tuple(
    Path(p).expanduser()
    for p in (os.environ.get("DL101_DATA_DIR", ""), "~/.cache/dl101", "~/data", "~/.torchvision", "/tmp/data")
    if p
)


class DataUnavailableError(RuntimeError):
    """The dataset is not on this machine; ``str(err)`` is for the student."""


@dataclass(frozen=True)
class Split:
    """A training subset and a held-out validation set."""

    X_train: np.ndarray  # (n_train, D) float32, features in [0, 1] (digits) or ≈[-1, 1] (spiral)
    y_train: np.ndarray  # (n_train,) int64 class labels
    X_val: np.ndarray  # (n_val, D) float32
    y_val: np.ndarray  # (n_val,) int64
    name: str  # dataset key
    num_classes: int  # 10 for digits
    image_side: int = 0  # 8 for digits, 28 for MNIST, 0 for non-image data

    @property
    def num_features(self) -> int:
        return int(self.X_train.shape[1])


#: The 8×8 digits, byte for byte scikit-learn's ``digits.csv.gz`` (provenance: assets/README.md).
DIGITS_FILE = Path(__file__).resolve().parent.parent / "assets" / "digits.csv.gz"


@lru_cache(maxsize=1)
def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 digits (scikit-learn's bundled set): ``X`` (1797, 64) float32 in [0, 1], ``y`` (1797,) int64.

    Read from ``assets/digits.csv.gz`` (the same file ``sklearn.datasets.load_digits``
    reads; a test checks they agree), so the app needs neither scikit-learn nor its
    import (~70 MB of server memory, ~190 MB of install for a hosted demo).
    """
    if not DIGITS_FILE.exists():
        raise DataUnavailableError(f"The bundled digits file is missing ({DIGITS_FILE.name}); reinstall the app.")
    data = np.loadtxt(DIGITS_FILE, delimiter=",", dtype=np.float32)  # (1797, 65): 64 pixels 0..16, then the label
    return data[:, :64] / 16.0, data[:, 64].astype(np.int64)


def _mnist(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-like train/test arrays from disk, or :class:`DataUnavailableError`."""
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    for root in DATA_DIRS:
        try:
            train = cls(str(root), train=True, download=False)
            test = cls(str(root), train=False, download=False)
        except (RuntimeError, OSError):
            continue
        X_tr = (train.data.reshape(len(train.data), -1).float() / 255.0).numpy()
        X_te = (test.data.reshape(len(test.data), -1).float() / 255.0).numpy()
        return X_tr, train.targets.numpy().astype(np.int64), X_te, test.targets.numpy().astype(np.int64)
    where = ", ".join(str(p) for p in DATA_DIRS)
    raise DataUnavailableError(
        f"{LABELS[name].split(' (')[0]} is not on this machine (looked in {where}); this lab never downloads it. "
        "Using the bundled 8×8 digits instead."
    )


def make_split(dataset: str = "digits", n_train: int = 300, n_val: int = 1000, seed: int = 0) -> Split:
    """A seeded training subset of ``n_train`` samples and a disjoint validation set of up to ``n_val``.

    The same ``seed`` gives the same split, so every configuration in a
    comparison sees exactly the same data.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    rng = np.random.default_rng(seed)
    if dataset == "spiral":
        from lab.data2d import make_points

        X, y = make_points("spiral", n_train + n_val, noise=0.08, seed=seed, num_classes=3)
        order = rng.permutation(len(X))
        tr, va = order[:n_train], order[n_train:]
        return Split(X[tr], y[tr], X[va], y[va], dataset, 3)
    if dataset == "digits":
        X, y = load_digits_arrays()
        n_train = min(n_train, len(X) - 1)
        order = rng.permutation(len(X))
        tr, va = order[:n_train], order[n_train : n_train + n_val]
        return Split(X[tr], y[tr], X[va], y[va], dataset, 10, 8)
    X_tr, y_tr, X_te, y_te = _mnist(dataset)
    tr = rng.permutation(len(X_tr))[:n_train]
    va = rng.permutation(len(X_te))[:n_val]
    return Split(X_tr[tr], y_tr[tr], X_te[va], y_te[va], dataset, 10, 28)
