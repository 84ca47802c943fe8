""" "Show me the code": a runnable plain-PyTorch script that reproduces :func:`lab.logistic.train`."""

from __future__ import annotations

from collections.abc import Sequence

from lab import codegen, features
from lab.logistic.config import ADAM_BETAS, ADAM_EPS, TrainConfig

SNIPPET = '''
"""Logistic regression trained with torch.optim and autograd — the same run as the lab.

Plain PyTorch + numpy: runs anywhere, no file from the lab needed."""
{math_import}import numpy as np
import torch
import torch.nn.functional as F

{data_lines}
X = torch.tensor(X_train)  # (N, 2) points
y = torch.tensor(y_train, dtype=torch.float32)  # (N,) labels 0/1


def features(X):
    """Hand-made features: the model sees these columns."""
    x1, x2 = X[:, 0], X[:, 1]
    return torch.stack([{feature_list}], dim=1)


Phi = features(X)  # (N, D)
w = torch.tensor({w0}, dtype=torch.float32, requires_grad=True)  # one weight per feature
b = torch.zeros((), requires_grad=True)  # bias
opt = {optimizer}
weight_decay = {weight_decay}  # λ in λ/2 ‖w‖² (the bias is not penalised)
{batch_setup}
for step in range({num_steps}):
{batch_lines}    Xb, yb = (Phi, y) if idx is None else (Phi[idx], y[idx])
    logits = Xb @ w + b
    loss = F.binary_cross_entropy_with_logits(logits, yb, reduction={reduction}) + weight_decay / 2 * (w**2).sum()
    if not torch.isfinite(loss):
        print(f"diverged at step {{step}}: lower the learning rate")
        break
    opt.zero_grad()
    # autograd: {grad_comment}
    loss.backward()
    p = torch.sigmoid(logits.detach())  # the same gradient by hand, the slide's formula:
    assert torch.allclose(w.grad, {grad_by_hand} + weight_decay * w.detach(), rtol=1e-4, atol=1e-4)
    opt.step()

with torch.no_grad():
    X_test = features(torch.tensor(X_test))
    y_test = torch.tensor(y_test)
    test_acc = ((X_test @ w + b > 0).long() == y_test).float().mean().item()
print("w =", w.tolist(), "b =", b.item(), "test accuracy =", test_acc)
'''

#: Each dataset's generator, inlined from :func:`lab.data2d.make_points` (two classes) so the
#: snippet needs nothing from the lab. ``tests/test_logistic_snippet.py`` checks that every one
#: gives exactly the lab's points.
DATA_CODE = {
    "blobs": (
        "angles = 2 * np.pi * np.arange(2) / 2 + np.pi / 4\n"
        "centers = 0.55 * np.stack([np.cos(angles), np.sin(angles)], axis=1)\n"
        "X_all = centers[y_all] + rng.normal(0, 0.15, (n, 2))  # two tight blobs"
    ),
    "overlap": (
        "angles = 2 * np.pi * np.arange(2) / 2 + np.pi / 4\n"
        "centers = 0.55 * np.stack([np.cos(angles), np.sin(angles)], axis=1)\n"
        "X_all = centers[y_all] + rng.normal(0, 0.45, (n, 2))  # two wide, overlapping blobs"
    ),
    "xor": (
        "X_all = rng.uniform(-1, 1, (n, 2))\n"
        "X_all += np.sign(X_all) * 0.05  # a small gap around the axes\n"
        "y_all = (X_all[:, 0] * X_all[:, 1] > 0).astype(np.int64)  # class 1 in quadrants I and III"
    ),
    "circles": (
        "r = np.where(y_all == 1, rng.uniform(0, 0.4, n), rng.uniform(0.65, 1.0, n))  # inner disc, outer ring\n"
        "t = rng.uniform(0, 2 * np.pi, n)\n"
        "X_all = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)"
    ),
    "moons": (
        "t = rng.uniform(0, np.pi, n)\n"
        "upper = np.stack([np.cos(t), np.sin(t)], axis=1)\n"
        "lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)\n"
        "X_all = (np.where(y_all[:, None] == 0, upper, lower) - [0.5, 0.25]) * 0.8"
    ),
    "spiral": (
        "r = rng.uniform(0.05, 1.0, n)\n"
        "t = 1.75 * 2 * np.pi * r + 2 * np.pi * y_all / 2  # two interleaved arms\n"
        "X_all = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)"
    ),
    "gaussian": ("X_all = np.where(y_all[:, None] == 1, [0.45, 0.45], [-0.45, -0.45]) + rng.normal(0, 0.25, (n, 2))"),
}

#: Reading the uploaded CSV the way the lab does: the label column is named label/y/class/target
#: (else the last one), the features are the first two other columns.
CSV_CODE = """\
import csv


def is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


with open({csv_name}, newline="", encoding="utf-8-sig") as f:
    rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
has_header = not all(is_number(h) for h in rows[0])
names = [h.strip().lower() for h in rows[0]]
label = next((names.index(k) for k in ("label", "y", "class", "target") if has_header and k in names), len(names) - 1)
cols = [i for i in range(len(names)) if i != label][:2]  # the first two other columns are x1, x2
rows = rows[1:] if has_header else rows
X_all = np.array([[float(r[i]) for i in cols] for r in rows], dtype=np.float32)
y_all = np.array([float(r[label]) for r in rows]).astype(np.int64)
n = len(X_all)"""

SPLIT_CODE = """\
perm = np.random.default_rng({seed} + 1).permutation(n)  # the lab's train/test split
n_train = min(max(1, round(n * {train_fraction})), n - 1)
X_train, y_train = X_all[perm[:n_train]], y_all[perm[:n_train]]
X_test, y_test = X_all[perm[n_train:]], y_all[perm[n_train:]]"""


def data_code(dataset: str, n: int, noise: float, train_fraction: float, seed: int, csv_name: str | None = None) -> str:
    """Plain numpy lines that leave ``X_train, y_train, X_test, y_test`` as the lab has them."""
    split = SPLIT_CODE.format(seed=seed, train_fraction=repr(train_fraction))
    if csv_name is not None:
        return CSV_CODE.format(csv_name=repr(csv_name)) + "\n" + split
    if dataset not in DATA_CODE:
        raise ValueError(f"no inline generator for dataset {dataset!r}; choose one of {list(DATA_CODE)}")
    return (
        f"n, noise = {n}, {noise!r}\n"
        f"rng = np.random.default_rng({seed})  # the lab's seeded toy data\n"
        "y_all = np.arange(n) % 2  # balanced classes 0/1\n"
        "rng.shuffle(y_all)\n"
        f"{DATA_CODE[dataset]}\n"
        "X_all = (X_all + rng.normal(0, noise, X_all.shape)).astype(np.float32)  # jitter\n"
        "y_all = y_all.astype(np.int64)\n" + split
    )


def grad_comment(reduction: str, optimizer: str, weight_decay: float) -> tuple[str, str]:
    """The comment after ``loss.backward()`` and the by-hand gradient it checks, for this reduction.

    ``reduction="sum"`` (the slide's L): w.grad = Σᵢ (pᵢ − yᵢ)·xᵢ over the batch; ``"mean"`` (PyTorch's
    default) divides that by the batch size B. The second string is the same formula as code.
    """
    n = "N" if optimizer == "gd" else "B"
    over = "the N training points" if optimizer == "gd" else "the mini-batch of B points"
    l2 = " + λw" if weight_decay else ""
    if reduction == "sum":
        comment = f"w.grad = Σ (p - y)·x{l2}, b.grad = Σ (p - y): summed over {over}"
        by_hand = "Xb.T @ (p - yb)"
    else:
        comment = f"w.grad = (1/{n}) Σ (p - y)·x{l2}, b.grad = (1/{n}) Σ (p - y): the mean over {over}"
        by_hand = "Xb.T @ (p - yb) / len(yb)"
    return comment, by_hand


def snippet(
    config: TrainConfig,
    feature_names: Sequence[str] = (),
    *,
    dataset: str = "overlap",
    n: int = 200,
    noise: float = 0.1,
    train_fraction: float = 0.7,
    csv_name: str | None = None,
) -> str:
    """A runnable plain-PyTorch script (autograd + ``torch.optim``) that reproduces :func:`train`.

    The data are generated inline with numpy (the lab's generator and seed,
    :func:`data_code`), or read from the uploaded CSV at ``csv_name``: the script
    imports nothing from the lab. The comment after ``loss.backward()`` follows
    ``config.reduction`` and the script asserts it (:func:`grad_comment`). The
    script leaves ``w``, ``b`` and ``test_acc`` in its namespace (tests compare
    them with the lab's run).
    """
    cfg = config
    feats = features.used(feature_names)
    data_lines = data_code(dataset, n, noise, train_fraction, cfg.seed, csv_name)
    comment, by_hand = grad_comment(cfg.reduction, cfg.optimizer, cfg.weight_decay)
    params = "[w, b]"
    if cfg.optimizer in ("gd", "sgd"):
        optimizer = f"torch.optim.SGD({params}, lr={cfg.lr!r})"
    elif cfg.optimizer == "momentum":
        optimizer = f"torch.optim.SGD({params}, lr={cfg.lr!r}, momentum={cfg.momentum!r})"
    else:
        optimizer = f"torch.optim.Adam({params}, lr={cfg.lr!r}, betas={ADAM_BETAS!r}, eps={ADAM_EPS!r})"
    if cfg.optimizer == "gd":
        batch_setup = "idx = None  # full batch: every training point, every step"
        batch_lines = ""
    else:
        batch_setup = (
            f"batch_size = {cfg.batch_size}\n"
            f"per_epoch = -(-len(y) // batch_size)  # batches per pass over the data\n"
            f"g = torch.Generator().manual_seed({cfg.seed})       # the mini-batch order"
        )
        batch_lines = (
            "    if batch_size >= len(y):\n"
            "        idx = None\n"
            "    else:\n"
            "        if step % per_epoch == 0:\n"
            "            order = torch.randperm(len(y), generator=g)\n"
            "        k = step % per_epoch\n"
            "        idx = order[k * batch_size:(k + 1) * batch_size]\n"
        )
    w0 = [float(cfg.w1_0), float(cfg.w2_0)] + [0.0] * (len(feats) - 2)
    return codegen.render_snippet(
        SNIPPET,
        data_lines=codegen.code(data_lines),
        feature_list=codegen.code(", ".join(f.code for f in feats)),
        w0=w0,
        optimizer=codegen.code(optimizer),
        weight_decay=float(cfg.weight_decay),
        batch_setup=codegen.code(batch_setup),
        batch_lines=codegen.code(batch_lines),
        num_steps=int(cfg.num_steps),
        reduction=cfg.reduction,
        grad_comment=codegen.code(comment),
        math_import=codegen.code("import math\n\n" if any("math." in f.code for f in feats) else ""),
        grad_by_hand=codegen.code(by_hand),
    )
