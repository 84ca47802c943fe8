"""Lab 4's "show me the code": a plain-PyTorch script that reproduces the page's comparison."""

from __future__ import annotations

from lab.regularization_config import CompareConfig

# --- show me the code ---------------------------------------------------------------------------

SNIPPET = '''
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits

# Data: a small training subset of the bundled 8×8 digits + a held-out validation set
X, y = load_digits(return_X_y=True)
X = torch.tensor(X / 16.0, dtype=torch.float32)
y = torch.tensor(y)
order = torch.from_numpy(np.random.default_rng({seed}).permutation(len(X)))
X_train, y_train = X[order[:{n_train}]], y[order[:{n_train}]]
X_val, y_val = X[order[{n_train}:{n_train} + {n_val}]], y[order[{n_train}:{n_train} + {n_val}]]

def make_model(batch_norm, dropout_p):
    """{depth} × (Linear → [BatchNorm1d] → {act} → [Dropout]) → Linear, identical initial weights."""
    g = torch.Generator().manual_seed({seed})
    layers, sizes = [], [64] + [{width}] * {depth}
    def linear(n_in, n_out):
        layer = nn.Linear(n_in, n_out)
        bound = 1 / math.sqrt(n_in)  # PyTorch's default init, drawn from our own generator
        with torch.no_grad():
            layer.weight.copy_((torch.rand(n_out, n_in, generator=g) * 2 - 1) * bound)
            layer.bias.copy_((torch.rand(n_out, generator=g) * 2 - 1) * bound)
        return layer
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers.append(linear(n_in, n_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out, momentum={bn_momentum}))  # momentum = α
        layers.append(nn.{act}())
        if dropout_p > 0:
            layers.append(nn.Dropout(dropout_p))
    layers.append(linear({width}, 10))
    return nn.Sequential(*layers)

def train(model, weight_decay=0.0):
    weights = [p for n, p in model.named_parameters() if p.dim() == 2]  # decay weights, not biases / γ, β
    others = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = {opt}([dict(params=weights, weight_decay=weight_decay), dict(params=others)], lr={lr}{momentum})
    batches = torch.Generator().manual_seed({seed} + 1)  # the same batch order for every model
    for epoch in range({num_epochs}):
        model.train()
        perm = torch.randperm(len(X_train), generator=batches)
        for start in range(0, len(perm), {batch_size}):
            idx = perm[start:start + {batch_size}]
            opt.zero_grad()
            F.cross_entropy(model(X_train[idx]), y_train[idx]).backward()
            opt.step()
    model.eval()  # dropout off, BN uses its running statistics
    with torch.no_grad():
        train_acc = (model(X_train).argmax(1) == y_train).float().mean().item()
        val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
    return train_acc, val_acc

torch.manual_seed({seed} + 2)  # dropout masks
results = {{
    "baseline": train(make_model(batch_norm=False, dropout_p=0.0)),
    "dropout": train(make_model(batch_norm=False, dropout_p={dropout_p})),
    "batchnorm": train(make_model(batch_norm=True, dropout_p=0.0)),
    "l2": train(make_model(batch_norm=False, dropout_p=0.0), weight_decay={weight_decay}),
}}
for name, (train_acc, val_acc) in results.items():
    print(f"{{name:10s}} train {{train_acc:.1%}}  val {{val_acc:.1%}}  gap {{train_acc - val_acc:+.1%}}")
'''


def snippet(config: CompareConfig) -> str:
    """A runnable plain-PyTorch script: baseline, dropout, BN and L2 on the page's digits settings."""
    from lab.codegen import code, render_snippet

    sgd = config.optimizer == "sgd"
    return render_snippet(
        SNIPPET,
        seed=config.seed,
        n_train=config.n_train,
        n_val=config.n_val,
        depth=config.depth,
        width=config.width,
        act=code({"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[config.activation]),
        bn_momentum=config.bn_momentum,
        opt=code("torch.optim.SGD" if sgd else "torch.optim.Adam"),
        lr=config.lr,
        momentum=code(", momentum=0.9" if sgd else ""),
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        dropout_p=config.dropout_p,
        weight_decay=config.weight_decay,
    )
