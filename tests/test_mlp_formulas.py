"""Lab 2's formulas evaluated numerically against the code and torch (issue 14, Missing 1–3)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from lab import init as lab_init
from lab import mlp
from lab import mlp_figures as mf
from lab import mlp_formulas as fm

TORCH_ACT = {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "relu": nn.ReLU(), "softplus": nn.Softplus()}


@pytest.mark.parametrize("name", list(fm.ACTIVATION_FORMULAS))
def test_activation_and_its_derivative_equal_torch_and_autograd(name):
    a = torch.linspace(-6, 6, 241, dtype=torch.float64, requires_grad=True)
    a_np = a.detach().numpy()
    f, df = fm.activation_by_hand(name, a_np)
    out = TORCH_ACT[name](a)
    (grad,) = torch.autograd.grad(out.sum(), a)
    np.testing.assert_allclose(f, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(df, grad.numpy(), atol=1e-12)
    # the plotted curves are those values
    fig = mf.activation_figure(name, 0.7)
    traces = {t.name: t for t in fig.data}
    label = fm.ACTIVATION_NAMES[name]
    np.testing.assert_allclose(traces[f"{label}′(a)"].y, fm.activation_by_hand(name, traces[f"{label}′(a)"].x)[1])
    point = traces["a = +0.70"]
    x = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (d,) = torch.autograd.grad(TORCH_ACT[name](x), x)
    assert point.y[1] == pytest.approx(float(d)) and point.y[0] == pytest.approx(float(TORCH_ACT[name](x.detach())))


def test_the_slides_sigmoid_without_the_minus_falls():
    a = np.linspace(-4, 4, 9)
    np.testing.assert_allclose(fm.slide_sigmoid(a), fm.activation_by_hand("sigmoid", -a)[0])
    assert np.all(np.diff(fm.slide_sigmoid(a)) < 0) and np.all(np.diff(fm.activation_by_hand("sigmoid", a)[0]) > 0)
    assert "e^{-a}" in fm.ACTIVATION_FORMULAS["sigmoid"][0]


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "identity"])
def test_mlp_formula_by_hand_equals_the_network(act):
    torch.manual_seed(0)
    model = mlp.build_mlp(2, (5,), [act], 1)
    X = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    with torch.no_grad():
        ref = torch.sigmoid(model(torch.as_tensor(X, dtype=torch.float32))).double().numpy()[:, 0]
    np.testing.assert_allclose(fm.mlp_formula_by_hand(model, [act], X), ref, atol=1e-6)
    tex = fm.mlp_formula_latex(model, [act], ["x_1", "x_2"], max_terms=8)
    hidden, out = mlp.linear_layers(model)
    for v in (float(hidden.weight[2, 1].detach()), float(out.weight[0, 4].detach()), float(out.bias[0].detach())):
        assert f"{abs(v):.2f}" in tex
    assert fm.mlp_formula_latex(mlp.build_mlp(2, (3, 3), ["tanh"] * 2, 1), ["tanh"] * 2, ["x_1", "x_2"]) is None


def _evaluate_latex(tex: str, x: np.ndarray) -> float:
    """Evaluate the right-hand side of a formula written by :mod:`lab.mlp_formulas` at the point ``x``."""
    rhs = tex.split("=", 1)[1] if tex.startswith(r"\hat y") else tex.split(") =", 1)[1]
    for a, b in (
        (r"\Bigl(", "("),
        (r"\Bigr)", ")"),
        (r"\bigl(", "("),
        (r"\bigr)", ")"),
        (r"\,", "*"),
        (r"\sigma", "sig"),
        (r"\tanh", "np.tanh"),
        (r"\operatorname{ReLU}", "relu"),
    ):
        rhs = rhs.replace(a, b)
    for i in range(len(x)):
        rhs = rhs.replace(f"x_{{{i + 1}}}", f"x[{i}]").replace(f"x_{i + 1}", f"x[{i}]")
    env = {"np": np, "x": x, "sig": lambda a: 1 / (1 + np.exp(-a)), "relu": lambda a: max(a, 0.0)}
    return float(eval(rhs, env))  # our own LaTeX, in a test


@pytest.mark.parametrize("act", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_regression_formula_is_the_raw_output_without_sigma(act, task):
    # issue 14 audit: for regression the page wrote P(y=1|x) = σ(…), but the network outputs the raw ŷ (MSE)
    torch.manual_seed(1)
    model = mlp.build_mlp(2, (3,), [act], 1)
    with torch.no_grad():  # 2-decimal weights: the LaTeX's rounded numbers are then exact
        for p in model.parameters():
            p.copy_(torch.round(p * 100) / 100)
    X = np.random.default_rng(1).uniform(-1, 1, (20, 2))
    with torch.no_grad():
        raw = model(torch.as_tensor(X, dtype=torch.float32)).double().numpy()[:, 0]
    ref = raw if task == "regression" else 1 / (1 + np.exp(-raw))
    np.testing.assert_allclose(fm.mlp_formula_by_hand(model, [act], X, task=task), ref, atol=1e-6)
    tex = fm.mlp_formula_latex(model, [act], ["x_1", "x_2"], max_terms=8, task=task)
    for x, r in zip(X[:5], ref[:5], strict=True):
        assert _evaluate_latex(tex, x) == pytest.approx(r, abs=1e-5)
    if task == "regression":
        assert tex.startswith(r"\hat y = ") and r"\sigma" not in tex and "P(y" not in tex
        assert r"\sigma\Bigl(" not in fm.general_formula(task).split(r"\qquad")[0] and "P(y" not in fm.general_formula(
            task
        )
        assert r"\sigma" not in fm.collapse_formula(task) and r"\hat y" in fm.collapse_formula(task)
    else:
        assert tex.startswith(r"P(y{=}1 \mid x) = \sigma\Bigl(")
        assert fm.general_formula(task) == fm.GENERAL_FORMULA and fm.collapse_formula(task) == fm.COLLAPSE_FORMULA


def test_collapse_latex_carries_the_collapsed_numbers():
    torch.manual_seed(3)
    model = mlp.build_mlp(2, (4, 3), ["identity"] * 2, 1)
    W, b = mlp.collapse_linear(model)
    tex = fm.collapse_latex(W.numpy(), b.numpy(), ["x_1", "x_2"])
    for v in (*W[0].tolist(), float(b[0])):
        assert f"{abs(v):.2f}" in tex
    reg = fm.collapse_latex(W.numpy(), b.numpy(), ["x_1", "x_2"], task="regression")
    assert reg.startswith(r"\hat y = ") and r"\sigma" not in reg
    x = np.array([0.3, -0.7])
    assert _evaluate_latex(reg, x) == pytest.approx(float(W[0] @ torch.tensor(x, dtype=W.dtype) + b[0]), abs=0.02)


@pytest.mark.parametrize(("fan_in", "fan_out"), [(2, 8), (32, 32), (300, 100)])
def test_xavier_bound_and_he_std_equal_nn_init(fan_in, fan_out):
    g = torch.Generator().manual_seed(0)
    w = torch.empty(fan_out * 50, fan_in)  # many rows: the empirical max reaches the bound
    nn.init.xavier_uniform_(w, generator=g)
    bound = lab_init.xavier_bound(fan_in, fan_out * 50)
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound
    assert bound == pytest.approx(math.sqrt(6 / (fan_in + fan_out * 50)))
    nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
    assert float(w.var()) == pytest.approx(2 / fan_in, rel=0.1)  # N(0, 2/fan_in)


def test_signal_spread_shrinks_for_the_slides_small_inits_and_holds_for_xavier_and_he():
    tanh = {s.label: s for s in fm.signal_spread("tanh", width=32, depth=6)}
    small = tanh["N(0, 0.01²): σ = 0.01"].activation_std
    # identity-like regime: each layer multiplies the spread by σ·√fan_in = 0.01·√32 ≈ 0.057
    for prev, now in itertools.pairwise(small[1:]):
        assert now / prev == pytest.approx(0.01 * math.sqrt(32), rel=0.2)
    assert tanh["Xavier"].activation_std[-1] > 0.1
    assert tanh["N(0, 0.01²): σ = 0.01"].grad_std[0] < 1e-6 * tanh["Xavier"].grad_std[0]
    relu = {s.label: s for s in fm.signal_spread("relu", width=32, depth=6)}
    he = relu["He / Kaiming"].activation_std
    assert 0.3 < he[-1] / he[0] < 3  # He keeps ReLU's signal alive
    uniform = relu["U(0, 0.1)"]
    assert all(m > 0 for m in uniform.activation_mean)  # U(0, 0.1) is not zero-mean
