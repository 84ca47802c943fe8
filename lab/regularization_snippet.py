"""Lab 4's "show me the code": a plain-PyTorch script that reproduces the page's comparison.

The script trains exactly the configurations chosen on the page (MLP or CNN,
every regulariser, input dropout, every seed) with the same private
generators as the lab — initial weights from ``seed``, batch order from
``seed + 1``, dropout / DropConnect masks from ``seed + 2`` — so it prints the
page's final accuracies (on the 8×8 digits; tests run it and compare).
"""

from __future__ import annotations

from lab.regularization_config import VARIANTS, CompareConfig

_FLAGS = ("dropout", "batch_norm", "layer_norm", "weight_norm", "dropconnect", "l2", "l1")

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

# The configurations chosen on the page: what each one switches on
CONFIGURATIONS = {configurations}
P, P_IN = {dropout_p}, {input_dropout}  # dropout / DropConnect p; input dropout of the dropout configurations


class Dropout(nn.Module):
    """Inverted dropout, like nn.Dropout, but its masks come from a private generator (reproducible)."""

    def __init__(self, p, generator):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x):
        if not self.training:
            return x  # eval mode: the identity
        keep = torch.empty(x.shape).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep.mul_(1 / (1 - self.p))  # kept units × 1/(1 − p): the expectation is unchanged


class DropConnectLinear(nn.Linear):
    """Drops weights instead of units in training; eval uses the full weights W (the mask's mean)."""

    def __init__(self, n_in, n_out, p, generator):
        super().__init__(n_in, n_out)
        self.p, self.generator = p, generator

    def forward(self, x):
        w = self.weight
        if self.training:
            keep = torch.empty(w.shape).bernoulli_(1 - self.p, generator=self.generator)
            w = w * keep.mul_(1 / (1 - self.p))
        return F.linear(x, w, self.bias)


def make_model(c, seed):
    init = torch.Generator().manual_seed(seed)  # identical initial weights for every configuration
    masks = torch.Generator().manual_seed(seed + 2)  # this model's dropout / DropConnect masks

    def init_(layer):  # PyTorch's default init U(±1/√fan_in), drawn from our own generator
        bound = 1 / math.sqrt(layer.weight[0].numel())
        with torch.no_grad():
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=init) * 2 - 1) * bound)
            layer.bias.copy_((torch.rand(layer.bias.shape, generator=init) * 2 - 1) * bound)
        return layer

{make_layers}
    model = nn.Sequential(*layers)
    if c.get("weight_norm"):  # w = g·v/‖v‖, applied after init: the same function at the start
        for m in model:
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.utils.parametrizations.weight_norm(m)
    return model


def weights_of(model):
    """The weights L1/L2 act on: every Linear / Conv2d weight (weight norm: its direction v), not biases, γ, β."""
    out = []
    for m in model:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            out.append(m.parametrizations.weight.original1 if hasattr(m, "parametrizations") else m.weight)
    return out


def train(c, seed):
    model = make_model(c, seed)
    weights = weights_of(model)
    others = [p for p in model.parameters() if all(p is not w for w in weights)]
    decay = {weight_decay} if c.get("l2") else 0.0  # weight_decay = λ₂ is the gradient of (λ₂/2)·‖W‖²
    opt = {opt}([dict(params=weights, weight_decay=decay), dict(params=others, weight_decay=0.0)], lr={lr}{momentum})
    l1 = {l1} if c.get("l1") else 0.0
    batches = torch.Generator().manual_seed(seed + 1)  # the same batch order for every configuration
    for epoch in range({num_epochs}):
        model.train()
        perm = torch.randperm(len(X_train), generator=batches)
        for start in range(0, len(perm), {batch_size}):
            idx = perm[start:start + {batch_size}]
            if len(idx) < 2 and c.get("batch_norm"):
                continue  # BN needs at least 2 samples per batch
            opt.zero_grad()
            loss = F.cross_entropy(model(X_train[idx]), y_train[idx])
            if l1:
                loss = loss + l1 * sum(w.abs().sum() for w in weights)  # λ₁·Σ|w|
            loss.backward()
            opt.step()
    model.eval()  # dropout off, BN uses its running statistics
    with torch.no_grad():
        train_acc = (model(X_train).argmax(1) == y_train).float().mean().item()
        val_logits = model(X_val)
        val_acc = (val_logits.argmax(1) == y_val).float().mean().item()
        val_loss = F.cross_entropy(val_logits, y_val).item()
    return train_acc, val_acc, val_loss


seeds = [{seed} + i for i in range({num_seeds})]
results = {{name: [train(c, s) for s in seeds] for name, c in CONFIGURATIONS.items()}}
for name, runs in results.items():
    train_acc, val_acc, val_loss = (float(np.mean(v)) for v in zip(*runs))
    print(f"{{name:12s}} val acc {{val_acc:.1%}}  val loss {{val_loss:.3f}}  train acc {{train_acc:.1%}}")
'''

_MLP_LAYERS = """
    # {depth} × (Linear → [BatchNorm1d | LayerNorm] → {act_name} → [Dropout]) → Linear
    layers = [Dropout(P_IN, masks)] if c.get("dropout") and P_IN > 0 else []
    sizes = [64] + [{width}] * {depth}
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if c.get("dropconnect") and P > 0:
            layers.append(init_(DropConnectLinear(n_in, n_out, P, masks)))
        else:
            layers.append(init_(nn.Linear(n_in, n_out)))
        if c.get("batch_norm"):
            layers.append(nn.BatchNorm1d(n_out, momentum={bn_momentum}))  # momentum = the lecture's α
        elif c.get("layer_norm"):
            layers.append(nn.LayerNorm(n_out))
        layers.append(nn.{act_name}())
        if c.get("dropout") and P > 0:
            layers.append(Dropout(P, masks))
    layers.append(init_(nn.Linear({width}, 10)))
"""

_CNN_LAYERS = """
    # {depth} × (Conv2d 3×3 → [BatchNorm2d | LayerNorm] → {act_name} → [Dropout] → [MaxPool 2]) → Linear
    layers = [nn.Unflatten(1, (1, 8, 8))]  # the flat 64 pixels as a 1×8×8 image
    if c.get("dropout") and P_IN > 0:
        layers.append(Dropout(P_IN, masks))
    side, c_in = 8, 1
    for _ in range({depth}):
        layers.append(init_(nn.Conv2d(c_in, {channels}, 3, padding=1)))
        if c.get("batch_norm"):
            layers.append(nn.BatchNorm2d({channels}, momentum={bn_momentum}))  # momentum = the lecture's α
        elif c.get("layer_norm"):
            layers.append(nn.LayerNorm([{channels}, side, side]))
        layers.append(nn.{act_name}())
        if c.get("dropout") and P > 0:
            layers.append(Dropout(P, masks))
        if side >= 4:  # pool while the maps are at least 4 pixels wide
            layers.append(nn.MaxPool2d(2))
            side //= 2
        c_in = {channels}
    layers.append(nn.Flatten())
    n_flat = {channels} * side * side
    if c.get("dropconnect") and P > 0:  # DropConnect on the classifier's weights
        layers.append(init_(DropConnectLinear(n_flat, 10, P, masks)))
    else:
        layers.append(init_(nn.Linear(n_flat, 10)))
"""


def snippet(config: CompareConfig) -> str:
    """A runnable plain-PyTorch script training the page's configurations (the digits; MLP or CNN)."""
    from lab.codegen import code, render_snippet

    act_name = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[config.activation]
    block = _CNN_LAYERS if config.model == "cnn" else _MLP_LAYERS
    make_layers = block.strip("\n").format(
        depth=config.depth, width=config.width, channels=config.channels, act_name=act_name,
        bn_momentum=repr(config.bn_momentum),
    )  # fmt: skip
    configurations = {
        key: {flag: True for flag in _FLAGS if getattr(VARIANTS[key], flag)} for key in dict.fromkeys(config.variants)
    }
    opt = {"sgd": "torch.optim.SGD", "adamw": "torch.optim.AdamW"}.get(config.optimizer, "torch.optim.Adam")
    return render_snippet(
        SNIPPET,
        seed=config.seed,
        n_train=config.n_train,
        n_val=config.n_val,
        configurations=configurations,
        dropout_p=config.dropout_p,
        input_dropout=config.input_dropout,
        make_layers=code(make_layers),
        opt=code(opt),
        lr=config.lr,
        momentum=code(", momentum=0.9" if config.optimizer == "sgd" else ""),
        weight_decay=config.weight_decay,
        l1=config.l1,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        num_seeds=config.num_seeds,
    )
