"""Lab 4: what the page states, checked against torch — the BN formula, the L2 convention, AdamW,
initialisation schemes, colours, the headline table and the stuck-at-chance hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lab import batchnorm, digits
from lab import regularization as reg


def test_worked_bn_example_equals_nn_batchnorm1d():
    ex = batchnorm.worked_example(6, gamma=1.5, beta=0.5, seed=3)
    bn = nn.BatchNorm1d(1, eps=ex.eps, momentum=0.1)
    with torch.no_grad():
        bn.weight.fill_(ex.gamma)
        bn.bias.fill_(ex.beta)
    out = bn(torch.tensor(ex.x)[:, None])[:, 0].detach()
    torch.testing.assert_close(torch.tensor(ex.y), out)
    # normalised with the biased variance (÷B); the running variance takes the unbiased one (÷(B − 1))
    x = torch.tensor(ex.x, dtype=torch.float64)
    assert math.isclose(ex.var, float(x.var(unbiased=False)), rel_tol=1e-5)
    assert math.isclose(ex.var_unbiased, float(x.var(unbiased=True)), rel_tol=1e-5)
    assert math.isclose(float(bn.running_var[0]), 0.9 + 0.1 * ex.var_unbiased, rel_tol=1e-5)
    np.testing.assert_allclose(ex.x_hat, (ex.x - ex.mean) / np.sqrt(ex.var + ex.eps), rtol=1e-5)


def test_weight_decay_is_the_gradient_of_half_lambda_w_squared_and_covers_conv_kernels():
    """Issue 14: weight_decay = λ is the gradient of (λ/2)·‖W‖², and CNN mode decays Conv2d kernels too."""
    lam = 0.3
    config = reg.CompareConfig(model="cnn", channels=4, optimizer="sgd", lr=0.1, weight_decay=lam)
    X, y = torch.rand(8, 64), torch.arange(8) % 10
    a = reg.build_model(config, reg.VARIANTS["l2"], 64, 10, seed=0, image_side=8)
    b = reg.build_model(config, reg.VARIANTS["baseline"], 64, 10, seed=0, image_side=8)
    decayed = reg.make_optimizer(config, reg.VARIANTS["l2"], a)
    assert any(p is a.convs[0].weight for p in decayed.param_groups[0]["params"])  # conv kernels are decayed
    assert decayed.param_groups[0]["weight_decay"] == lam and decayed.param_groups[1]["weight_decay"] == 0.0
    plain = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    decayed.zero_grad()
    F.cross_entropy(a(X), y).backward()
    decayed.step()
    plain.zero_grad()
    penalty = sum((w**2).sum() for w in reg.weight_tensors(b)) * lam / 2  # (λ/2)·‖W‖² by hand
    (F.cross_entropy(b(X), y) + penalty).backward()
    plain.step()
    for wa, wb in zip(reg.weight_tensors(a), reg.weight_tensors(b), strict=True):
        torch.testing.assert_close(wa, wb)


def test_adamw_decays_decoupled_and_adam_couples():
    config = reg.CompareConfig(width=8, weight_decay=0.1, lr=0.01)
    model = reg.build_model(replace_opt(config, "adamw"), reg.VARIANTS["l2"], 64, 10, 0)
    opt = reg.make_optimizer(replace_opt(config, "adamw"), reg.VARIANTS["l2"], model)
    assert isinstance(opt, torch.optim.AdamW)
    w0 = model.linears[0].weight.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no loss gradient: only the decay moves the weights
    opt.step()
    torch.testing.assert_close(model.linears[0].weight, w0 * (1 - 0.01 * 0.1))  # w ← w − lr·λ·w
    assert isinstance(reg.make_optimizer(config, reg.VARIANTS["l2"], model), torch.optim.Adam)


def replace_opt(config, optimizer):
    from dataclasses import replace

    return replace(config, optimizer=optimizer)


@pytest.mark.parametrize("scheme", ["xavier", "he"])
def test_init_schemes_match_nn_init(scheme):
    config = reg.CompareConfig(depth=3, width=256)
    model = reg.build_model(config, reg.VARIANTS["baseline"], 64, 10, seed=0)
    reg.init_linears_(model, 1, scheme)
    w = model.linears[1].weight.detach()  # 256 × 256
    fan_in, fan_out = w.shape[1], w.shape[0]
    if scheme == "xavier":
        bound = math.sqrt(6 / (fan_in + fan_out))
        ref = nn.init.xavier_uniform_(torch.empty_like(w), generator=torch.Generator().manual_seed(0))
        assert w.abs().max() <= bound and ref.abs().max() <= bound and w.abs().max() > 0.95 * bound
    else:
        assert abs(float(w.std()) - math.sqrt(2 / fan_in)) < 0.02 * math.sqrt(2 / fan_in)
    assert float(model.linears[1].bias.detach().abs().max()) == 0.0


def test_he_init_keeps_relu_gradients_alive_at_initialisation():
    """Vanishing gradients is measured at initialisation: BN is one fix, He init (ReLU) is another."""
    s = digits.make_split("digits", 128, 10, seed=0)
    default = reg.gradient_profile(s.X_train, s.y_train, depth=8, activation="relu")
    he = reg.gradient_profile(s.X_train, s.y_train, depth=8, activation="relu", init="he")
    assert default[0] / default[-1] < 0.1 < he[0] / he[-1]
    spread_default = reg.activation_spread(s.X_train, depth=8, activation="relu")
    spread_he = reg.activation_spread(s.X_train, depth=8, activation="relu", init="he")
    assert spread_default[-1] < 0.4 * spread_default[0] and spread_he[-1] > 0.5 * spread_he[0]


def test_every_configuration_has_its_own_colour_in_the_curves():
    """Issue 15: with 9 configurations two shared a colour."""
    assert len(set(reg.VARIANT_COLORS.values())) == len(reg.VARIANTS) == 9
    split = digits.make_split("spiral", 40, 40, seed=0)
    result = reg.compare(
        reg.CompareConfig(dataset="spiral", width=8, num_epochs=1, variants=tuple(reg.VARIANTS)), split
    )
    fig = reg.curves_figure(result, "acc")
    colours = {t.legendgroup: t.line.color for t in fig.data}
    assert len(set(colours.values())) == 9
    assert sum(t.showlegend is not False for t in fig.data) == 9  # one legend entry per configuration
    rows = reg.summary(result)
    assert len(rows) == 9 and list(rows[0])[1:3] == ["final val acc %", "± (seeds)"]  # validation first


def test_runs_stuck_at_chance_are_named():
    split = digits.make_split("digits", 100, 100, seed=0)
    config = reg.CompareConfig(
        n_train=100, width=16, depth=6, activation="sigmoid", optimizer="sgd", lr=1e-4, num_epochs=4,
        variants=("baseline", "batchnorm"),
    )  # fmt: skip
    result = reg.compare(config, split)
    assert "baseline" in reg.stuck_at_chance(result, 10)
    good = reg.compare(reg.CompareConfig(n_train=100, width=32, lr=1e-2, num_epochs=5, variants=("baseline",)), split)
    assert reg.stuck_at_chance(good, 10) == []


def test_layer_norm_weight_norm_and_dropconnect_formulas_match_torch():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(5, 7, generator=g) * 3 + 1
    gamma, beta = torch.rand(7, generator=g) + 0.5, torch.randn(7, generator=g)
    ln = nn.LayerNorm(7)
    with torch.no_grad():
        ln.weight.copy_(gamma)
        ln.bias.copy_(beta)
    torch.testing.assert_close(batchnorm.layer_norm(h, gamma, beta), ln(h))
    # weight norm: w = g·v/‖v‖, as torch's parametrization computes it (for a Linear and a Conv2d)
    for layer in (nn.Linear(6, 4), nn.Conv2d(2, 3, 3)):
        nn.utils.parametrizations.weight_norm(layer)
        with torch.no_grad():
            layer.parametrizations.weight.original0.mul_(1.7)  # change g: w follows
        gv, v = layer.parametrizations.weight.original0, layer.parametrizations.weight.original1
        torch.testing.assert_close(batchnorm.weight_norm_weight(gv, v), layer.weight)
    # DropConnect: y = x·((M ⊙ W)/(1 − p))ᵀ + b with the module's own mask; eval uses the full W
    from lab import dropout as drop

    layer = drop.DropConnectLinear(6, 4, p=0.3, generator=torch.Generator().manual_seed(5))
    x = torch.randn(3, 6, generator=g)
    mask = drop.dropout_mask(layer.weight.shape, 0.3, torch.Generator().manual_seed(5))
    torch.testing.assert_close(layer(x), drop.dropconnect_by_hand(x, layer.weight, layer.bias, mask, 0.3))
    layer.eval()
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))


def test_l1_piles_weights_up_near_zero_and_l2_shrinks_them_all():
    """Missing 7: L1 vs L2 side by side (layer 1's weights after training)."""
    split = digits.make_split("digits", 200, 300, seed=0)
    config = reg.CompareConfig(
        n_train=200, width=64, num_epochs=40, variants=("baseline", "l1", "l2"), l1=1e-3, weight_decay=1e-2
    )
    runs = {k: v[0] for k, v in reg.compare(config, split).by_variant().items()}
    near = {k: reg.near_zero_fraction(r.first_weights) for k, r in runs.items()}
    # measured: baseline 0.7 %, L2 22 %, L1 47 % of the 4,096 weights below 1e-3
    assert near["l1"] > near["l2"] + 0.1 > near["baseline"] + 0.1
    scale = {k: float(np.abs(r.first_weights).mean()) for k, r in runs.items()}
    assert scale["l2"] < scale["baseline"] and scale["l1"] < scale["baseline"]
    fig = reg.weight_histogram_figure(reg.compare(config, split))
    assert [t.name for t in fig.data] == ["Baseline", "+ L1", "+ L2"] and fig.layout.yaxis.type == "log"
