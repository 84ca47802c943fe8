"""Two-dimensional toy datasets and CSV upload validation (labs 1 and 2).

Generators are written with numpy and a private ``np.random.Generator`` so the
same seed always gives the same points. Coordinates are roughly in [-1, 1]
(TensorFlow Playground uses [-6, 6]; we scale down so learning rates behave the
same for hand-made features like x² and sin x).

:func:`parse_csv` turns an uploaded CSV into ``(X, y)`` or raises
:class:`DataInputError` with a message for the student.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

CLASSIFICATION = ("blobs", "overlap", "xor", "circles", "moons", "spiral", "gaussian")
REGRESSION = ("plane", "multi_gaussian")
DATASETS = CLASSIFICATION + REGRESSION
LABELS = {
    "blobs": "Separable blobs",
    "overlap": "Overlapping blobs",
    "xor": "XOR",
    "circles": "Circles",
    "moons": "Moons",
    "spiral": "Spiral",
    "gaussian": "Two Gaussians",
    "plane": "Plane (regression)",
    "multi_gaussian": "Multi-Gaussian (regression)",
}
#: Most rows a CSV upload may have (training is interactive).
MAX_ROWS = 10_000


class DataInputError(ValueError):
    """Uploaded data cannot be used; ``str(err)`` is for the student."""


@dataclass(frozen=True)
class Dataset2D:
    """Points in the plane, split into train and test."""

    X_train: np.ndarray  # (n_train, 2) float32
    y_train: np.ndarray  # (n_train,) int64 class labels, or float32 targets for regression
    X_test: np.ndarray  # (n_test, 2)
    y_test: np.ndarray  # (n_test,)
    name: str  # dataset key, or the uploaded file name
    task: str = "classification"  # or "regression"

    @property
    def num_classes(self) -> int:
        if self.task != "classification":
            return 0
        return int(max(self.y_train.max(initial=0), self.y_test.max(initial=0))) + 1

    @property
    def X(self) -> np.ndarray:
        return np.concatenate([self.X_train, self.X_test])

    def bounds(self, margin: float = 0.15) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) around all points, with a margin."""
        X = self.X
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = (hi - lo) * margin + 1e-6
        return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def make_points(
    name: str, n: int = 200, noise: float = 0.1, seed: int = 0, num_classes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` points of dataset ``name``: ``X`` (n, 2) float32 and ``y`` (n,).

    ``noise`` is the standard deviation of Gaussian jitter in data units.
    ``num_classes`` applies to blobs and spiral (arms); the others are binary.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    rng = np.random.default_rng(seed)
    k = max(2, int(num_classes)) if name in ("blobs", "spiral") else 2
    y = np.arange(n) % k  # balanced classes
    rng.shuffle(y)
    if name in ("blobs", "overlap"):
        angles = 2 * np.pi * np.arange(k) / k + np.pi / 4
        centers = 0.55 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        spread = 0.15 if name == "blobs" else 0.45
        X = centers[y] + rng.normal(0, spread, (n, 2))
    elif name == "xor":
        X = rng.uniform(-1, 1, (n, 2))
        X += np.sign(X) * 0.05  # keep a small gap around the axes, as Playground does
        y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    elif name == "circles":
        r = np.where(y == 1, rng.uniform(0, 0.4, n), rng.uniform(0.65, 1.0, n))
        t = rng.uniform(0, 2 * np.pi, n)
        X = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    elif name == "moons":
        t = rng.uniform(0, np.pi, n)
        upper = np.stack([np.cos(t), np.sin(t)], axis=1)
        lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        X = (np.where(y[:, None] == 0, upper, lower) - [0.5, 0.25]) * 0.8
    elif name == "spiral":
        r = rng.uniform(0.05, 1.0, n)
        t = 1.75 * 2 * np.pi * r + 2 * np.pi * y / k
        X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    elif name == "gaussian":
        X = np.where(y[:, None] == 1, [0.45, 0.45], [-0.45, -0.45]) + rng.normal(0, 0.25, (n, 2))
    elif name == "plane":
        X = rng.uniform(-1, 1, (n, 2))
        y = (X[:, 0] - 0.5 * X[:, 1]) / 1.5
    else:  # multi_gaussian: a sum of signed bumps, as in Playground's regression set
        X = rng.uniform(-1, 1, (n, 2))
        centers = np.array([[-0.6, 0.6], [0.6, 0.6], [-0.6, -0.6], [0.6, -0.6], [0, 0]])
        signs = np.array([1, -1, -1, 1, 0.8])
        d2 = ((X[:, None, :] - centers[None]) ** 2).sum(-1)
        y = (signs * np.exp(-d2 / 0.12)).sum(-1)
    X = X + rng.normal(0, noise, X.shape)
    if name in REGRESSION:
        return X.astype(np.float32), np.asarray(y, dtype=np.float32)
    return X.astype(np.float32), np.asarray(y, dtype=np.int64)


def make_dataset(
    name: str,
    n: int = 200,
    noise: float = 0.1,
    train_fraction: float = 0.7,
    seed: int = 0,
    num_classes: int = 2,
) -> Dataset2D:
    """Generate a dataset and split it (seeded) into train and test."""
    X, y = make_points(name, n, noise, seed, num_classes)
    return split(X, y, train_fraction, seed, name, "regression" if name in REGRESSION else "classification")


def split(
    X: np.ndarray, y: np.ndarray, train_fraction: float, seed: int, name: str, task: str = "classification"
) -> Dataset2D:
    """Shuffle (seeded) and split into train/test; both parts get at least one point."""
    n = len(X)
    order = np.random.default_rng(seed + 1).permutation(n)
    n_train = min(max(1, round(n * train_fraction)), n - 1) if n > 1 else n
    tr, te = order[:n_train], order[n_train:]
    return Dataset2D(X[tr], y[tr], X[te], y[te], name, task)


def grid(bounds: tuple[float, float, float, float], resolution: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``resolution``² grid over ``bounds``: ``xs`` (R,), ``ys`` (R,), points (R*R, 2) float32."""
    xs = np.linspace(bounds[0], bounds[1], resolution, dtype=np.float32)
    ys = np.linspace(bounds[2], bounds[3], resolution, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=1)


# --- CSV upload ---------------------------------------------------------------

_LABEL_NAMES = ("label", "y", "class", "target")
#: Largest CSV accepted (10,000 rows of a few numbers are well under 1 MB).
MAX_CSV_BYTES = 5 * 1024 * 1024
#: Longest line, and most columns, a CSV may have (checked before a row is split).
MAX_LINE_CHARS = 10_000
MAX_COLUMNS = 100


def parse_csv(
    data: bytes, name: str = "upload.csv", *, max_rows: int = MAX_ROWS, max_classes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV with two numeric feature columns and an integer class label.

    The label column is the one named ``label``/``y``/``class``/``target``, else
    the last column; the features are the first two other columns. Labels must
    be whole numbers 0 … ``max_classes`` − 1 with at least two classes present.
    Returns ``X`` (n, 2) float32 and ``y`` (n,) int64.

    The file is read line by line and each line is checked (length, column
    count) before it is split, so a hostile file costs at most one line's work
    beyond the limits. Results and errors are remembered by the bytes' digest
    (:mod:`lab.upload_cache`): a rerun with the same upload does no work.
    """
    from lab import upload_cache

    return upload_cache.remember(
        "csv",
        data or b"",
        (name, max_rows, max_classes),
        lambda: _parse_csv(data, name, max_rows, max_classes),
        errors=(DataInputError,),
        copy=lambda result: (result[0].copy(), result[1].copy()),
    )


def _parse_csv(data: bytes, name: str, max_rows: int, max_classes: int) -> tuple[np.ndarray, np.ndarray]:
    if len(data or b"") > MAX_CSV_BYTES:
        raise DataInputError(
            f"“{name}” is {len(data) / 1e6:.1f} MB; CSV uploads are limited to {MAX_CSV_BYTES / 1e6:.0f} MB "
            f"({max_rows:,} rows). Please sample it down."
        )
    try:
        text = (data or b"").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataInputError(f"“{name}” is not a text file (it is not UTF-8). Upload a plain CSV.") from None
    if not text.strip():  # also a file that is only a byte-order mark or Unicode spaces
        raise DataInputError(f"“{name}” is empty. Upload a CSV with columns like x1,x2,label.")
    # (line number, line) for every non-blank line, one at a time (never a list of all lines).
    lines = ((n, line) for n, line in enumerate(io.StringIO(text, newline=None), start=1) if line.strip())
    first_no, first = next(lines)
    header = _split(first, first_no, name)
    if len(header) < 3:
        for sep, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in first:
                raise DataInputError(
                    f"“{name}” seems to separate columns with {word}; please save it with commas "
                    "(for example x1,x2,label)."
                )
        raise DataInputError(
            f"“{name}” has {len(header)} column(s); it needs three: two numeric features and a 0/1 label "
            "(for example x1,x2,label)."
        )
    names = [h.strip().lower() for h in header]
    has_header = not all(_is_number(h) for h in header)
    label_col = next((names.index(n) for n in _LABEL_NAMES if has_header and n in names), len(header) - 1)
    feature_cols = [i for i in range(len(header)) if i != label_col][:2]
    X = np.empty((max_rows, 2), dtype=np.float64)
    y = np.empty(max_rows, dtype=np.float64)
    rows = 0
    for line_no, line in lines if has_header else _chain((first_no, first), lines):
        if rows == max_rows:
            raise DataInputError(
                f"“{name}” has more than {max_rows:,} rows; the limit is {max_rows:,}. Please sample it down."
            )
        row = _split(line, line_no, name)
        if len(row) != len(header):
            raise DataInputError(f"Line {line_no} of “{name}” has {len(row)} values; the header has {len(header)}.")
        try:
            X[rows] = [float(row[c]) for c in feature_cols]
            y[rows] = float(row[label_col])
        except ValueError:
            raise DataInputError(
                f"Line {line_no} of “{name}” has a value that is not a number ({_cut(line.strip())})."
            ) from None
        rows += 1
    if rows < 2:
        raise DataInputError(f"“{name}” has {rows} data row(s); it needs at least two points.")
    X, y = X[:rows], y[:rows]
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        bad = int(np.argmax(~(np.isfinite(X).all(axis=1) & np.isfinite(y)))) + 1
        raise DataInputError(
            f"“{name}” contains NaN or infinite values (first at data row {bad}). Remove or fill them."
        )
    if not np.all(y == np.round(y)) or y.min() < 0 or y.max() > max_classes - 1:
        allowed = "0 or 1" if max_classes == 2 else f"whole numbers 0 … {max_classes - 1}"
        found = ", ".join(f"{v:g}" for v in np.unique(y)[:6])
        raise DataInputError(f"The label column of “{name}” must hold {allowed}; found values {found}.")
    if len(np.unique(y)) < 2:
        raise DataInputError(f"Every row of “{name}” has label {int(y[0])}: a classifier needs at least two classes.")
    return X.astype(np.float32), y.astype(np.int64)


def _chain(first, rest):
    yield first
    yield from rest


def _split(line: str, line_no: int, name: str) -> list[str]:
    """One CSV line → its fields, after checking its length and column count (cheap, before splitting)."""
    if len(line) > MAX_LINE_CHARS:
        raise DataInputError(
            f"Line {line_no} of “{name}” is {len(line):,} characters long; lines may have at most "
            f"{MAX_LINE_CHARS:,}. Is it really a CSV of numbers?"
        )
    if line.count(",") >= MAX_COLUMNS:
        raise DataInputError(
            f"Line {line_no} of “{name}” has more than {MAX_COLUMNS} columns; this lab needs three (x1,x2,label)."
        )
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration) as err:
        raise DataInputError(f"Line {line_no} of “{name}” is not valid CSV ({_cut(str(err))}).") from None


def _cut(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, control characters as spaces, Markdown escaped.

    A message quotes at most that much of the file, and pages show messages as
    Markdown: a line like ``[x](https://…),1,0`` must not become a link.
    """
    from lab.params import escape_markdown

    text = "".join(c if c.isprintable() else " " for c in text[: limit + 1])
    return escape_markdown(text if len(text) <= limit else text[: limit - 1] + "…")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(X: np.ndarray, y: np.ndarray) -> bytes:
    """Points → CSV bytes with header ``x1,x2,label`` (the format :func:`parse_csv` reads)."""
    out = io.StringIO()
    out.write("x1,x2,label\n")
    for (a, b), label in zip(X, y, strict=True):
        out.write(f"{a:.6g},{b:.6g},{label}\n")
    return out.getvalue().encode()
