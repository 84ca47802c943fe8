"""Show me the code for the MLP lab: plain PyTorch that reproduces a run bit for bit."""

from __future__ import annotations

from lab.mlp_config import DataConfig, NetConfig, TrainConfig

# --- show me the code -----------------------------------------------------------------

SNIPPET = """
import torch
import torch.nn.functional as F
from torch import nn
from lab.data2d import {data_import}  # the lab's seeded 2D toy data (numpy)

{data_line}


def features(X):  # points (N, 2) -> input features (N, {num_features})
    return torch.stack([{feature_exprs}], dim=1)


X_train, y_train = features(torch.as_tensor(data.X_train)), torch.as_tensor(data.y_train)
X_test, y_test = features(torch.as_tensor(data.X_test)), torch.as_tensor(data.y_test)

model = nn.Sequential({layers})
g = torch.Generator().manual_seed({seed})  # initialisation
with torch.no_grad():
    for layer, gain in zip([m for m in model if isinstance(m, nn.Linear)], {gains}):
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
        optimizer.step()
    {scheduler_step}

with torch.no_grad():
    train_loss = loss_fn(model(X_train), y_train).item()
    test_loss = loss_fn(model(X_test), y_test).item()
print(f"epoch {num_epochs}: train loss {{train_loss:.4f}}, test loss {{test_loss:.4f}}")
"""

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
        data_import, data_line = (
            "parse_csv, split",
            f"X, y = parse_csv(open({csv_name!r}, 'rb').read(), max_classes=6)  # your uploaded file\n"
            f"data = split(X, y, train_fraction={train_fraction!r}, seed={seed}, name={csv_name!r})",
        )
    else:
        data_import = "make_dataset"
        data_line = (
            f"data = make_dataset({data_cfg.dataset!r}, n={data_cfg.n}, noise={data_cfg.noise!r}, "
            f"train_fraction={data_cfg.train_fraction!r}, seed={data_cfg.seed}, num_classes={data_cfg.num_classes})"
        )
    width = len(net.features)
    layers = []
    for h, act in zip(net.hidden, net.activations, strict=True):
        layers += [f"nn.Linear({width}, {h})", _ACT_CODE[act]]
        width = h
    layers.append(f"nn.Linear({width}, {num_outputs})")
    acts = [*net.activations, "identity"]
    gains = "[" + ", ".join(f"nn.init.calculate_gain({_GAIN_CODE[a]!r})" for a in acts) + "]"
    init_weight = {
        "zeros": "nn.init.zeros_(layer.weight)  # symmetry: every unit identical",
        "constant": f"nn.init.constant_(layer.weight, {net.constant!r})  # symmetry: every unit identical",
        "normal": f"nn.init.normal_(layer.weight, 0.0, {net.sigma!r}, generator=g)",
        "uniform": "nn.init.uniform_(layer.weight, 0.0, 0.1, generator=g)",
        "xavier": "nn.init.xavier_uniform_(layer.weight, gain=gain, generator=g)",
        "kaiming": "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu', generator=g)",
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
    penalty = ""
    if cfg.l1 or cfg.l2:
        penalty = (
            f" + sum(\n            {cfg.l1!r} * m.weight.abs().sum() + {cfg.l2!r} * (m.weight**2).sum()"
            "\n            for m in model if isinstance(m, nn.Linear)\n        )"
        )
    source = render_snippet(
        SNIPPET,
        data_import=code(data_import),
        data_line=code(data_line),
        num_features=len(net.features),
        feature_exprs=code(", ".join(_FEATURE_CODE[f] for f in net.features)),
        layers=code(", ".join(layers)),
        seed=seed,
        gains=code(gains),
        init_weight=code(init_weight),
        bias_value=net.constant if net.init == "constant" else 0.0,
        optimizer=code(optimizer),
        scheduler=code(scheduler),
        loss_expr=code(loss_expr),
        num_epochs=num_epochs,
        batch_size=max(1, cfg.batch_size),
        penalty=code(penalty),
        scheduler_step=code("scheduler.step()" if cfg.schedule != "constant" else "pass  # no schedule"),
    )
    if "math.pi" in source:
        source = "import math\n" + source
    return source
