"""Lab 4 bench: 4 configurations × 30 epochs on digits (500 training samples, MLP 64-128-128-10).

Reports the lab's total time (target < 20 s on a 2-core CPU) and the ratio
against a bare PyTorch loop doing the same work in the same run: the same four
models (baseline, dropout, BN, L2), the same batches, and the same per-epoch
evaluation of train/val loss and accuracy. The lab additionally records
activation quantiles, per-layer gradient norms and BN statistics — that is its
overhead (target ≤ 1.2×). Run: ``python -m bench.run regularization``.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn import functional as F

from lab import digits
from lab import regularization as reg

CONFIG = reg.CompareConfig(
    n_train=500,
    n_val=1000,
    depth=2,
    width=128,
    num_epochs=30,
    batch_size=32,
    variants=("baseline", "dropout", "batchnorm", "l2"),
)


def _bare(split: digits.Split, config: reg.CompareConfig) -> float:
    """The same four trainings as plain nn.Sequential models and a textbook loop; returns seconds."""
    X_tr, y_tr = torch.as_tensor(split.X_train), torch.as_tensor(split.y_train)
    X_va, y_va = torch.as_tensor(split.X_val), torch.as_tensor(split.y_val)
    t0 = time.perf_counter()
    models, opts = [], []
    for key in config.variants:
        v = reg.VARIANTS[key]
        layers: list[nn.Module] = []
        for n_in in (64, config.width):
            layers.append(nn.Linear(n_in, config.width))
            if v.batch_norm:
                layers.append(nn.BatchNorm1d(config.width))
            layers.append(nn.ReLU())
            if v.dropout:
                layers.append(nn.Dropout(config.dropout_p))
        layers.append(nn.Linear(config.width, 10))
        model = nn.Sequential(*layers)
        models.append(model)
        opts.append(torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay if v.l2 else 0))
    g = torch.Generator().manual_seed(1)
    for _epoch in range(config.num_epochs):
        order = torch.randperm(len(X_tr), generator=g)
        for model, opt in zip(models, opts, strict=True):
            model.train()
            for start in range(0, len(order), config.batch_size):
                idx = order[start : start + config.batch_size]
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(X_tr[idx]), y_tr[idx]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for X, y in ((X_tr, y_tr), (X_va, y_va)):
                    logits = model(X)
                    F.cross_entropy(logits, y).item()
                    (logits.argmax(1) == y).float().mean().item()
    return time.perf_counter() - t0


def run() -> dict:
    split = digits.make_split("digits", CONFIG.n_train, CONFIG.n_val, CONFIG.seed)
    threads = torch.get_num_threads()
    out: dict = {
        "setup": "4 configs × 30 epochs, digits 500 train / 1000 val, MLP 64-128-128-10, Adam, batch 32",
        "note": "tiny MLPs: 1 torch thread is much faster than 2 on a loaded 2-core machine (oversubscription)",
    }
    for n_threads in sorted({1, threads}):
        torch.set_num_threads(n_threads)
        reg.compare(reg.CompareConfig(num_epochs=1, variants=CONFIG.variants), split)  # warm-up
        lab_s, bare_s = [], []
        for _ in range(3 if n_threads == 1 else 1):  # interleaved repeats: the shared machine's noise hits both alike
            t0 = time.perf_counter()
            result = reg.compare(CONFIG, split)
            lab_s.append(time.perf_counter() - t0)
            bare_s.append(_bare(split, CONFIG))
        best_lab, best_bare = min(lab_s), min(bare_s)
        out[f"threads_{n_threads}"] = {
            "lab_total_s": round(best_lab, 3),
            "bare_total_s": round(best_bare, 3),
            "lab_over_bare": round(best_lab / best_bare, 3),
            "lab_runs_s": [round(s, 3) for s in lab_s],
            "bare_runs_s": [round(s, 3) for s in bare_s],
            "target_under_20s": best_lab < 20.0,
            "target_ratio_le_1_2": best_lab / best_bare <= 1.2,
            "val_acc": {r.variant: round(r.val_acc[-1], 4) for r in result.runs},
            "train_acc": {r.variant: round(r.train_acc[-1], 4) for r in result.runs},
        }
    torch.set_num_threads(threads)
    return out
