""" "Show me the code": a runnable plain-PyTorch script that reproduces :func:`lab.logistic.train`."""

from __future__ import annotations

from collections.abc import Sequence

from lab import codegen, features
from lab.logistic.config import ADAM_BETAS, ADAM_EPS, TrainConfig

SNIPPET = '''
"""Logistic regression trained with torch.optim and autograd — the same run as the lab."""
import torch
import torch.nn.functional as F
{data_import}

{data_lines}
X = torch.tensor(data.X_train)                          # (N, 2) points
y = torch.tensor(data.y_train, dtype=torch.float32)     # (N,) labels 0/1


def features(X):
    """Hand-made features: the model sees these columns."""
    x1, x2 = X[:, 0], X[:, 1]
    return torch.stack([{feature_list}], dim=1)


Phi = features(X)                                        # (N, D)
w = torch.tensor({w0}, dtype=torch.float32, requires_grad=True)  # one weight per feature
b = torch.zeros((), requires_grad=True)                  # bias
opt = {optimizer}
weight_decay = {weight_decay}                            # λ in λ/2 ‖w‖² (the bias is not penalised)
{batch_setup}
for step in range({num_steps}):
{batch_lines}    logits = Phi[idx] @ w + b if idx is not None else Phi @ w + b
    target = y[idx] if idx is not None else y
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction={reduction}) + weight_decay / 2 * (w**2).sum()
    if not torch.isfinite(loss):
        print(f"diverged at step {{step}}: lower the learning rate")
        break
    opt.zero_grad()
    loss.backward()   # autograd: w.grad = mean((p - y) * x) + λw, b.grad = mean(p - y)
    opt.step()

with torch.no_grad():
    X_test = features(torch.tensor(data.X_test))
    y_test = torch.tensor(data.y_test)
    test_acc = ((X_test @ w + b > 0).long() == y_test).float().mean().item()
print("w =", w.tolist(), "b =", b.item(), "test accuracy =", test_acc)
'''


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

    The data come from :mod:`lab.data2d` (generated with the same seed, or the
    uploaded CSV read from ``csv_name``). The script leaves ``w``, ``b`` and
    ``test_acc`` in its namespace (tests compare them with the lab's run).
    """
    cfg = config
    feats = features.used(feature_names)
    if csv_name is None:
        data_import = "from lab.data2d import make_dataset   # the lab's toy data (numpy arrays)"
        data_lines = (
            f"data = make_dataset({dataset!r}, n={n}, noise={noise!r}, train_fraction={train_fraction!r}, "
            f"seed={cfg.seed})"
        )
    else:
        data_import = "from lab.data2d import parse_csv, split   # validates the CSV like the lab does"
        data_lines = (
            f"with open({csv_name!r}, 'rb') as f:\n    X_all, y_all = parse_csv(f.read())\n"
            f"data = split(X_all, y_all, {train_fraction!r}, seed={cfg.seed}, name={csv_name!r})"
        )
    params = "[w, b]"
    if cfg.optimizer in ("gd", "sgd"):
        optimizer = f"torch.optim.SGD({params}, lr={cfg.lr!r})"
    elif cfg.optimizer == "momentum":
        optimizer = f"torch.optim.SGD({params}, lr={cfg.lr!r}, momentum={cfg.momentum!r})"
    else:
        optimizer = f"torch.optim.Adam({params}, lr={cfg.lr!r}, betas={ADAM_BETAS!r}, eps={ADAM_EPS!r})"
    if cfg.optimizer == "gd":
        batch_setup = "idx = None                                 # full batch: every training point, every step"
        batch_lines = ""
    else:
        batch_setup = (
            f"batch_size = {cfg.batch_size}\n"
            f"per_epoch = -(-len(y) // batch_size)                   # batches per pass over the data\n"
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
        data_import=codegen.code(data_import),
        data_lines=codegen.code(data_lines),
        feature_list=codegen.code(", ".join(f.code for f in feats)),
        w0=w0,
        optimizer=codegen.code(optimizer),
        weight_decay=float(cfg.weight_decay),
        batch_setup=codegen.code(batch_setup),
        batch_lines=codegen.code(batch_lines),
        num_steps=int(cfg.num_steps),
        reduction=cfg.reduction,
    )
