"""Show me the code for the MLP lab: plain PyTorch that reproduces a run bit for bit."""

from __future__ import annotations

from lab.mlp_config import DataConfig, NetConfig, TrainConfig

# --- show me the code -----------------------------------------------------------------

SNIPPET = """
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

{data_code}


def split(X, y, train_fraction, seed):  # seeded shuffle, then train / test
    order = np.random.default_rng(seed + 1).permutation(len(X))
    n_train = min(max(1, round(len(X) * train_fraction)), len(X) - 1)
    return X[order[:n_train]], y[order[:n_train]], X[order[n_train:]], y[order[n_train:]]


{data_line}


def features(X):  # points (N, 2) -> input features (N, {num_features})
    return torch.stack([{feature_exprs}], dim=1)


X_train, y_train = features(torch.as_tensor(X_tr)), torch.as_tensor(y_tr)
X_test, y_test = features(torch.as_tensor(X_te)), torch.as_tensor(y_te)

model = nn.Sequential({layers})
g = torch.Generator().manual_seed({seed})  # initialisation
with torch.no_grad():
    for layer, act in zip([m for m in model if isinstance(m, nn.Linear)], {gain_names}):
        gain = nn.init.calculate_gain(act)  # the gain of the activation after this layer
        {init_weight}
        nn.init.constant_(layer.bias, {bias_value})

optimizer = {optimizer}
scheduler = {scheduler}
shuffle = torch.Generator().manual_seed({seed} + 1)  # minibatch order


def loss_fn(logits, y):
    return {loss_expr}


for epoch in range({num_epochs}):
    order = torch.randperm(len(X_train), generator=shuffle)
    for start in range(0, len(X_train), {batch_size}):
        idx = order[start : start + {batch_size}]
        loss = loss_fn(model(X_train[idx]), y_train[idx]){penalty}
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(){prox}
    {scheduler_step}

with torch.no_grad():
    train_loss = loss_fn(model(X_train), y_train).item()
    test_loss = loss_fn(model(X_test), y_test).item()
print(f"epoch {num_epochs}: train loss {{train_loss:.4f}}, test loss {{test_loss:.4f}}")
"""

#: L1 as Playground's proximal step (lab.mlp_train.l1_proximal_step), written out.
_PROX = """
        with torch.no_grad():  # L1: move each weight lr*l1 towards 0, and stop at exactly 0 (a dead link)
            t = optimizer.param_groups[0]["lr"] * {l1}
            for m in model:
                if isinstance(m, nn.Linear):
                    m.weight.copy_(m.weight.sign() * (m.weight.abs() - t).clamp(min=0))"""

#: Each dataset's generator, written out as lab.data2d.make_points does it (tests check equality).
_MAKE_POINTS_HEAD = """
def make_points(n, noise, seed, k):  # the lab's seeded "{name}" points: X (n, 2), y (n,)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k  # balanced classes
    rng.shuffle(y)
"""
_MAKE_POINTS_BODY = {
    "blobs": """
    angles = 2 * np.pi * np.arange(k) / k + np.pi / 4
    centers = 0.55 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = centers[y] + rng.normal(0, {spread}, (n, 2))""",
    "xor": """
    X = rng.uniform(-1, 1, (n, 2))
    X += np.sign(X) * 0.05  # a small gap around the axes, as in Playground
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)""",
    "circles": """
    r = np.where(y == 1, rng.uniform(0, 0.4, n), rng.uniform(0.65, 1.0, n))
    t = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)""",
    "moons": """
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    X = (np.where(y[:, None] == 0, upper, lower) - [0.5, 0.25]) * 0.8""",
    "spiral": """
    r = rng.uniform(0.05, 1.0, n)
    t = 1.75 * 2 * np.pi * r + 2 * np.pi * y / k
    X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)""",
    "gaussian": """
    X = np.where(y[:, None] == 1, [0.45, 0.45], [-0.45, -0.45]) + rng.normal(0, 0.25, (n, 2))""",
    "plane": """
    X = rng.uniform(-1, 1, (n, 2))
    y = (X[:, 0] - 0.5 * X[:, 1]) / 1.5""",
    "multi_gaussian": """
    X = rng.uniform(-1, 1, (n, 2))  # a sum of signed bumps, as in Playground's regression set
    centers = np.array([[-0.6, 0.6], [0.6, 0.6], [-0.6, -0.6], [0.6, -0.6], [0, 0]])
    signs = np.array([1, -1, -1, 1, 0.8])
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(-1)
    y = (signs * np.exp(-d2 / 0.12)).sum(-1)""",
}
_MAKE_POINTS_TAIL = """
    X = X + rng.normal(0, noise, X.shape)
    return X.astype(np.float32), np.asarray(y, dtype=np.{y_dtype})"""

#: An uploaded CSV read as lab.data2d.parse_csv reads a valid file (header optional, label column by name or last).
_READ_CSV = """
import csv


def read_csv(path):  # X (n, 2) float32, y (n,) int64
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header = [c.strip().lower() for c in rows.pop(0)]
    names = [n for n in ("label", "y", "class", "target") if header and n in header]
    label_col = header.index(names[0]) if names else len(rows[0]) - 1
    cols = [i for i in range(len(rows[0])) if i != label_col][:2]
    X = np.array([[float(r[c]) for c in cols] for r in rows], dtype=np.float64)
    y = np.array([float(r[label_col]) for r in rows], dtype=np.float64)
    return X.astype(np.float32), y.astype(np.int64)"""


def make_points_code(name: str) -> str:
    """Plain numpy for :func:`lab.data2d.make_points` of dataset ``name`` (a ``make_points(n, noise, seed, k)``)."""
    key = "blobs" if name == "overlap" else name
    if key not in _MAKE_POINTS_BODY:
        raise ValueError(f"no generator code for dataset {name!r}")
    body = _MAKE_POINTS_BODY[key].replace("{spread}", "0.45" if name == "overlap" else "0.15")
    y_dtype = "float32" if name in ("plane", "multi_gaussian") else "int64"
    return (
        _MAKE_POINTS_HEAD.replace("{name}", name).strip("\n") + body + _MAKE_POINTS_TAIL.replace("{y_dtype}", y_dtype)
    )


_FEATURE_CODE = {
    "x1": "X[:, 0]",
    "x2": "X[:, 1]",
    "x1sq": "X[:, 0] ** 2",
    "x2sq": "X[:, 1] ** 2",
    "x1x2": "X[:, 0] * X[:, 1]",
    "sin1": "torch.sin(math.pi * X[:, 0])",
    "sin2": "torch.sin(math.pi * X[:, 1])",
}
_ACT_CODE = {
    "tanh": "nn.Tanh()",
    "relu": "nn.ReLU()",
    "sigmoid": "nn.Sigmoid()",
    "softplus": "nn.Softplus()",
    "identity": "nn.Identity()",
}
_GAIN_CODE = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "softplus": "relu", "identity": "linear"}


def code_snippet(
    data_cfg: DataConfig | None,
    net: NetConfig,
    cfg: TrainConfig,
    *,
    seed: int,
    num_epochs: int,
    num_outputs: int,
    task: str = "classification",
    csv_name: str = "",
    train_fraction: float = 0.5,
) -> str:
    """Plain PyTorch reproducing ``num_epochs`` epochs of this run from scratch (bit-identical on the CPU).

    ``data_cfg`` None means the data came from an uploaded CSV called ``csv_name``.
    """
    from lab.codegen import code, render_snippet

    if data_cfg is None:
        data_code = _READ_CSV.strip("\n")
        data_line = (
            f"X_tr, y_tr, X_te, y_te = split(*read_csv({csv_name!r}), train_fraction={train_fraction!r}, "
            f"seed={seed})  # your uploaded file"
        )
    else:
        data_code = make_points_code(data_cfg.dataset)
        k = max(2, int(data_cfg.num_classes)) if data_cfg.dataset in ("blobs", "spiral") else 2
        data_line = (
            f"X, y = make_points({data_cfg.n}, noise={data_cfg.noise!r}, seed={data_cfg.seed}, k={k})\n"
            f"X_tr, y_tr, X_te, y_te = split(X, y, train_fraction={data_cfg.train_fraction!r}, seed={data_cfg.seed})"
        )
    width = len(net.features)
    layers = []
    for h, act in zip(net.hidden, net.activations, strict=True):
        layers += [f"nn.Linear({width}, {h})", _ACT_CODE[act]]
        width = h
    layers.append(f"nn.Linear({width}, {num_outputs})")
    acts = [*net.activations, "identity"]
    gain_names = "[" + ", ".join(repr(_GAIN_CODE[a]) for a in acts) + "]"
    init_weight = {
        "zeros": "nn.init.zeros_(layer.weight)  # symmetry: every unit identical",
        "constant": f"nn.init.constant_(layer.weight, {net.constant!r})  # symmetry: every unit identical",
        "normal": f"nn.init.normal_(layer.weight, 0.0, {net.sigma!r}, generator=g)",
        "uniform": "nn.init.uniform_(layer.weight, 0.0, 0.1, generator=g)",
        "xavier": "nn.init.xavier_uniform_(layer.weight, gain=gain, generator=g)",
        "kaiming": "nn.init.kaiming_normal_(layer.weight, nonlinearity=act, generator=g)  # std = gain / sqrt(fan_in)",
    }[net.init]
    if cfg.optimizer == "adam":
        optimizer = f"torch.optim.Adam(model.parameters(), lr={cfg.lr!r})"
    else:
        momentum = cfg.momentum if cfg.optimizer == "momentum" else 0.0
        optimizer = f"torch.optim.SGD(model.parameters(), lr={cfg.lr!r}, momentum={momentum!r})"
    scheduler = {
        "constant": "None  # constant learning rate",
        "step": "torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)",
        "exponential": "torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.99)",
        "cosine": f"torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={max(1, cfg.num_epochs)})",
    }[cfg.schedule]
    if task == "regression":
        loss_expr = "F.mse_loss(logits[:, 0], y)"
    elif num_outputs == 1:
        loss_expr = (
            "F.binary_cross_entropy_with_logits(logits[:, 0], y.float())"
            if cfg.loss == "ce"
            else "F.mse_loss(torch.sigmoid(logits[:, 0]), y.float())"
        )
    else:
        loss_expr = (
            "F.cross_entropy(logits, y)"
            if cfg.loss == "ce"
            else f"F.mse_loss(torch.softmax(logits, dim=1), F.one_hot(y, {num_outputs}).float())"
        )
    l1 = 0.0 if cfg.l1_clip else cfg.l1
    terms = ([f"{l1!r} * m.weight.abs().sum()"] if l1 else []) + (
        [f"0.5 * {cfg.l2!r} * (m.weight**2).sum()"] if cfg.l2 else []
    )
    penalty = ""
    if terms:  # (l2/2)·Σw²: its gradient l2·w is PyTorch's weight_decay and Playground's L2
        penalty = (
            " + sum(\n            "
            + " + ".join(terms)
            + "\n            for m in model if isinstance(m, nn.Linear)\n        )"
        )
    prox = _PROX.replace("{l1}", repr(cfg.l1)) if cfg.l1 and cfg.l1_clip else ""
    source = render_snippet(
        SNIPPET,
        data_code=code(data_code),
        data_line=code(data_line),
        num_features=len(net.features),
        feature_exprs=code(", ".join(_FEATURE_CODE[f] for f in net.features)),
        layers=code(", ".join(layers)),
        seed=seed,
        gain_names=code(gain_names),
        init_weight=code(init_weight),
        bias_value=net.constant if net.init == "constant" else 0.0,
        optimizer=code(optimizer),
        scheduler=code(scheduler),
        loss_expr=code(loss_expr),
        num_epochs=num_epochs,
        batch_size=max(1, cfg.batch_size),
        penalty=code(penalty),
        prox=code(prox),
        scheduler_step=code("scheduler.step()" if cfg.schedule != "constant" else "pass  # no schedule"),
    )
    if "math.pi" in source:
        source = "import math\n" + source
    return source
