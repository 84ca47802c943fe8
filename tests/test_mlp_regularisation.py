"""Lab 2's regularisation and initialisation statements, checked against torch (issue 14)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from lab import data2d, mlp
from lab import init as lab_init
from lab import mlp_figures as mf
from lab.mlp_code import make_points_code
from lab.mlp_train import l1_proximal_step

CIRCLES = mlp.DataConfig("circles", n=200, seed=0)


def _train(cfg: mlp.TrainConfig, epochs: int = 60) -> mlp.Trainer:
    t = mlp.Trainer.create(mlp.make_data(CIRCLES), mlp.NetConfig(hidden=(8, 8), activations=("tanh", "tanh")), cfg)
    t.train(epochs)
    return t


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_l1_with_clipping_gives_exact_zeros_and_plain_subgradient_does_not(optimizer):
    clipped = _train(mlp.TrainConfig(optimizer=optimizer, l1=0.05, l1_clip=True))
    plain = _train(mlp.TrainConfig(optimizer=optimizer, l1=0.05, l1_clip=False))
    zeros, total = clipped.zero_weights()
    assert total == 2 * 8 + 8 * 8 + 8
    assert zeros >= 10, zeros  # exact zeros: dead links
    assert plain.zero_weights()[0] == 0  # hovering near 0, never at it
    small = sum(int((layer.weight.abs() < 0.02).sum()) for layer in mlp.linear_layers(plain.model))
    assert small > 0  # ... though plenty are close


def test_l1_proximal_step_is_playgrounds_clip_at_zero():
    model = mlp.build_mlp(2, (3,), ["tanh"], 1)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.3, -0.3], [0.05, -0.05], [0.0, 0.12]]))
    before = model[0].weight.detach().clone()
    bias = model[0].bias.detach().clone()
    l1_proximal_step(model, 0.0)  # a zero step changes nothing
    torch.testing.assert_close(model[0].weight, before)
    l1_proximal_step(model, 0.1)
    torch.testing.assert_close(model[0].weight, before.sign() * (before.abs() - 0.1).clamp(min=0))
    # Playground's rule by hand: step by −t·sign(w); a sign change means the step crossed 0 → exactly 0
    for w_old, w_new in zip(before.flatten().tolist(), model[0].weight.flatten().tolist(), strict=True):
        stepped = w_old - 0.1 * math.copysign(1, w_old) if w_old else 0.0
        assert w_new == (0.0 if stepped * w_old <= 0 else pytest.approx(stepped, abs=1e-6))
    torch.testing.assert_close(model[0].bias, bias)  # biases are not penalised


def test_l2_is_half_the_squared_norm_so_its_gradient_is_weight_decay():
    t = mlp.Trainer.create(mlp.make_data(CIRCLES), mlp.NetConfig(), mlp.TrainConfig(l2=0.1))
    t.model.zero_grad()
    t.penalty().backward()
    for layer in mlp.linear_layers(t.model):
        torch.testing.assert_close(layer.weight.grad, 0.1 * layer.weight.detach())  # d/dw (λ/2)‖w‖² = λw
    # one SGD epoch with our L2 equals torch's SGD(weight_decay=λ) on the weights
    a = mlp.Trainer.create(mlp.make_data(CIRCLES), mlp.NetConfig(), mlp.TrainConfig(l2=0.05, lr=0.1))
    b = mlp.Trainer.create(mlp.make_data(CIRCLES), mlp.NetConfig(), mlp.TrainConfig(lr=0.1))
    groups = [
        {"params": [m.weight for m in mlp.linear_layers(b.model)], "weight_decay": 0.05},
        {"params": [m.bias for m in mlp.linear_layers(b.model)], "weight_decay": 0.0},
    ]
    b.optimizer = torch.optim.SGD(groups, lr=0.1)
    a.train(1)
    b.train(1)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, atol=1e-6, rtol=1e-5)


def test_l1_and_l2_help_state_what_the_code_does():
    specs = {p.name: p for p in mlp.TRAIN_SPECS}
    assert "exactly 0" in specs["l1_clip"].help and "hover" in specs["l1"].help
    assert "(l2/2)·Σw²" in specs["l2"].help and "weight_decay" in specs["l2"].help and "AdamW" in specs["l2"].help
    assert specs["l1_clip"].default is True and mlp.TrainConfig().l1_clip is True


@pytest.mark.parametrize(("act", "gain"), [("relu", math.sqrt(2)), ("tanh", 5 / 3), ("sigmoid", 1.0)])
def test_kaiming_uses_the_gain_of_the_chosen_activation(act, gain):
    layer = nn.Linear(400, 300)
    lab_init.init_linear(layer, "kaiming", generator=torch.Generator().manual_seed(0), activation=act)
    assert float(layer.weight.detach().std()) == pytest.approx(gain / math.sqrt(400), rel=0.02)


@pytest.mark.parametrize("name", data2d.DATASETS)
def test_inlined_generators_equal_data2d(name):
    ns: dict = {"np": np}
    exec(make_points_code(name), ns)
    k = 3 if name in ("blobs", "spiral") else 2
    X, y = ns["make_points"](97, 0.07, 5, k)
    X_ref, y_ref = data2d.make_points(name, 97, 0.07, seed=5, num_classes=k)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert y.dtype == y_ref.dtype


def test_snippet_runs_outside_the_repo_in_a_fresh_interpreter(tmp_path):
    data_cfg = mlp.DataConfig("spiral", n=120, noise=0.02, num_classes=3, seed=1)
    net = mlp.NetConfig(features=("x1", "x2", "sin1"), hidden=(6,), activations=("relu",), init="kaiming")
    cfg = mlp.TrainConfig(optimizer="adam", lr=0.01, l1=0.01, l2=0.01)
    t = mlp.Trainer.create(mlp.make_data(data_cfg), net, cfg, seed=3)
    t.train(3)
    source = mlp.code_snippet(data_cfg, net, cfg, seed=3, num_epochs=3, num_outputs=t.num_outputs)
    assert "from lab" not in source and "import lab" not in source
    script = tmp_path / "mlp_playground.py"
    script.write_text(source + "\ntorch.save(model.state_dict(), 'weights.pt')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    state = torch.load(tmp_path / "weights.pt", weights_only=True)
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_snippet_with_plain_l1_subgradient_is_bit_identical():
    from lab import codegen

    data_cfg = mlp.DataConfig("xor", n=80, seed=2)
    cfg = mlp.TrainConfig(l1=0.02, l1_clip=False, l2=0.01)
    t = mlp.Trainer.create(mlp.make_data(data_cfg), mlp.NetConfig(), cfg, seed=1)
    t.train(3)
    ns = codegen.run_snippet(mlp.code_snippet(data_cfg, t.net, cfg, seed=1, num_epochs=3, num_outputs=1))
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, ns["model"].state_dict()[k]), k


def test_compare_l1_l2_l1_gives_exact_zeros_l2_shrinks_without_zeros():
    data = mlp.make_data(CIRCLES)
    net = mlp.NetConfig(hidden=(8, 8), activations=("tanh", "tanh"))
    r = mlp.compare_l1_l2(data, net, mlp.TrainConfig(lr=0.3), l1=0.01, l2=0.03, num_epochs=60)
    assert r.exact_zeros["L1"] > 0 and r.exact_zeros["L2"] == 0 and r.exact_zeros["none"] == 0
    assert np.abs(r.weights["L2"]).mean() < np.abs(r.weights["none"]).mean()
    fig = mf.weight_histograms(r.weights, r.exact_zeros)
    assert len(fig.data) == 3 and sum(fig.data[1].y) == len(r.weights["L1"])
