"""Lab 1 (logistic regression): the hand-written maths against autograd, torch.optim and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lab import codegen, data2d, features, logistic, params
from lab.logistic import TrainConfig


@pytest.fixture(scope="module")
def overlap():
    return data2d.make_dataset("overlap", 200, 0.1, 0.7, seed=0)


def _random_problem(n=50, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (torch.rand(n, generator=g) > 0.5).double()
    w = torch.randn(d, generator=g, dtype=torch.float64)
    b = torch.randn((), generator=g, dtype=torch.float64)
    return X, y, w, b


# --- the gradient by hand equals autograd --------------------------------------------------------------


@pytest.mark.parametrize("reduction", logistic.REDUCTIONS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_manual_gradient_matches_autograd(reduction, weight_decay, seed):
    X, y, w, b = _random_problem(n=37, d=3 + seed, seed=seed)
    gw, gb = logistic.manual_gradient(X, y, w, b, weight_decay, reduction)
    aw, ab = logistic.autograd_gradient(X, y, w, b, weight_decay, reduction)
    torch.testing.assert_close(gw, aw, atol=1e-6, rtol=0)
    torch.testing.assert_close(gb, ab, atol=1e-6, rtol=0)
    check = logistic.check_gradient(X, y, w, float(b), weight_decay, reduction)
    assert check.max_abs_diff < 1e-6


def test_gradient_check_catches_a_wrong_gradient():
    # The check itself can fail: a gradient missing the 1/N of the mean disagrees with autograd.
    X, y, w, b = _random_problem()
    wrong_w, _ = logistic.manual_gradient(X, y, w, b, reduction="sum")
    right_w, _ = logistic.autograd_gradient(X, y, w, b, reduction="mean")
    assert (wrong_w - right_w).abs().max() > 1e-3


def test_manual_gradient_is_the_slide_formula():
    X, y, w, b = _random_problem(n=5, d=2)
    p = torch.sigmoid(X @ w + b)
    by_loop = sum((p[i] - y[i]) * X[i] for i in range(5))
    gw, gb = logistic.manual_gradient(X, y, w, b, reduction="sum")
    torch.testing.assert_close(gw, by_loop)
    torch.testing.assert_close(gb, (p - y).sum())


def test_loss_is_the_slide_cross_entropy_and_matches_torch():
    X, y, w, b = _random_problem(n=30, d=2)
    p = torch.sigmoid(X @ w + b)
    slide = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum()
    torch.testing.assert_close(logistic.loss(X, y, w, b, reduction="sum"), slide)
    torch.testing.assert_close(
        logistic.loss(X, y, w, b, reduction="mean"), F.binary_cross_entropy_with_logits(X @ w + b, y)
    )
    # Stable where the naive formula is not: a confident wrong answer costs |z|, not inf.
    big = logistic.bce_from_logits(torch.tensor([200.0]), torch.tensor([0.0]))
    assert torch.isfinite(big) and abs(float(big) - 200.0) < 1e-3


# --- training: the hand-written optimisers equal torch.optim (the snippet) ---------------------------


@pytest.mark.parametrize("optimizer", logistic.OPTIMIZERS)
@pytest.mark.parametrize("reduction", logistic.REDUCTIONS)
def test_training_matches_the_torch_optim_snippet(overlap, optimizer, reduction):
    feats = ("x1sq", "x1x2")
    lr = 0.01 if reduction == "sum" else 0.5
    cfg = TrainConfig(
        optimizer=optimizer, lr=lr, num_steps=60, batch_size=16, weight_decay=0.1, reduction=reduction, w1_0=1.5
    )
    run = logistic.train_dataset(overlap, feats, cfg)
    assert run.status == "finished" and run.num_steps == 60
    code = logistic.snippet(cfg, feats, dataset="overlap", n=200, noise=0.1, train_fraction=0.7)
    ns = codegen.run_snippet(code)
    np.testing.assert_allclose(ns["w"].detach().numpy(), run.w[-1], atol=1e-5)
    assert abs(ns["b"].item() - run.b[-1]) < 1e-5
    assert ns["test_acc"] == pytest.approx(float(run.test_acc[-1]))


def test_snippet_reads_an_uploaded_csv(tmp_path, overlap):
    path = tmp_path / "points.csv"
    path.write_bytes(data2d.to_csv(overlap.X, np.concatenate([overlap.y_train, overlap.y_test])))
    X, y = data2d.parse_csv(path.read_bytes(), "points.csv")
    data = data2d.split(X, y, 0.7, 3, "points.csv")
    cfg = TrainConfig(optimizer="adam", lr=0.05, num_steps=40, seed=3)
    run = logistic.train_dataset(data, (), cfg)
    ns = codegen.run_snippet(logistic.snippet(cfg, (), train_fraction=0.7, csv_name=str(path)))
    np.testing.assert_allclose(ns["w"].detach().numpy(), run.w[-1], atol=1e-5)


def test_gradient_descent_trajectory_is_the_update_rule(overlap):
    cfg = TrainConfig(optimizer="gd", lr=0.02, num_steps=25, weight_decay=0.01)
    run = logistic.train_dataset(overlap, ("x2sq",), cfg)
    Phi = features.expand(torch.as_tensor(overlap.X_train), ("x2sq",))
    y = torch.as_tensor(overlap.y_train)
    for t in (0, 7, 24):
        gw, gb = logistic.manual_gradient(Phi, y, torch.as_tensor(run.w[t]), float(run.b[t]), 0.01)
        np.testing.assert_allclose(run.grad_w[t], gw.numpy(), rtol=1e-4, atol=1e-4)
        assert float(gb) == pytest.approx(float(run.grad_b[t]), rel=1e-4, abs=1e-4)
        np.testing.assert_allclose(run.update(t), -cfg.lr * np.append(run.grad_w[t], run.grad_b[t]), atol=1e-6)
    # The recorded objective is the loss at each state (the landscape plots the same function).
    obj = logistic.loss(Phi, y, torch.as_tensor(run.w[10]), float(run.b[10]), 0.01, "sum")
    assert float(obj) == pytest.approx(float(run.objective[10]), rel=1e-5)
    # Curves: mean BCE and accuracy per state, computed in one matmul, equal a per-state loop.
    logits = Phi @ torch.as_tensor(run.w[10]) + float(run.b[10])
    assert float(F.binary_cross_entropy_with_logits(logits, y.float())) == pytest.approx(float(run.train_loss[10]))
    assert float(((logits > 0).long() == y).float().mean()) == pytest.approx(float(run.train_acc[10]))


def test_adam_with_l2_is_coupled_not_weight_decay_and_the_help_says_so(overlap):
    # issue 14 audit: with Adam, λw is rescaled per weight with the loss gradient, so it is not AdamW's decay
    help_text = next(p for p in logistic.TRAIN_SPECS if p.name == "weight_decay").help
    assert "Adam" in help_text and "not weight decay" in help_text and "AdamW decouples" in help_text
    lam, lr, steps = 0.5, 0.05, 40
    cfg = TrainConfig(optimizer="adam", lr=lr, num_steps=steps, batch_size=256, weight_decay=lam, w1_0=1.5)
    run = logistic.train_dataset(overlap, (), cfg)  # batch ≥ N: full batch, so torch.optim sees the same data
    Phi = features.expand(torch.as_tensor(overlap.X_train), ())
    y = torch.as_tensor(overlap.y_train, dtype=Phi.dtype)

    def torch_run(decoupled: bool) -> np.ndarray:
        w = torch.tensor([1.5, 0.0], dtype=Phi.dtype, requires_grad=True)
        b = torch.zeros((), dtype=Phi.dtype, requires_grad=True)
        groups = [{"params": [w], "weight_decay": lam}, {"params": [b], "weight_decay": 0.0}]
        opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)(groups, lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(Phi @ w + b, y, reduction="sum").backward()
            opt.step()
        return w.detach().numpy()

    np.testing.assert_allclose(run.w[-1], torch_run(decoupled=False), atol=1e-4)  # coupled: Adam(weight_decay)
    assert np.abs(run.w[-1] - torch_run(decoupled=True)).max() > 1e-2  # not AdamW


def test_minibatches_cover_every_point_once_per_epoch():
    batch = logistic._batches(10, 4, seed=0)
    epoch = torch.cat([batch(t) for t in range(3)])
    assert sorted(epoch.tolist()) == list(range(10))
    assert [len(batch(t)) for t in range(3, 6)] == [4, 4, 2]
    assert logistic._batches(10, 10, seed=0)(0) is None  # a batch as big as the data is full-batch


# --- scikit-learn: the same L2-regularised solution ----------------------------------------------------


@pytest.mark.parametrize("reduction", logistic.REDUCTIONS)
def test_l2_gradient_descent_matches_scikit_learn(overlap, reduction):
    from sklearn.linear_model import LogisticRegression

    weight_decay, n = 0.5 if reduction == "sum" else 0.01, len(overlap.X_train)
    lr = 0.02 if reduction == "sum" else 2.0
    X64, Xt64 = torch.tensor(overlap.X_train, dtype=torch.float64), torch.tensor(overlap.X_test, dtype=torch.float64)
    cfg = TrainConfig(optimizer="gd", lr=lr, num_steps=1500, weight_decay=weight_decay, reduction=reduction)
    run = logistic.train(X64, overlap.y_train, Xt64, overlap.y_test, (), cfg)
    clf = LogisticRegression(C=logistic.sklearn_C(weight_decay, n, reduction), tol=1e-12, max_iter=10_000)
    clf.fit(overlap.X_train.astype(np.float64), overlap.y_train)
    np.testing.assert_allclose(run.w[-1], clf.coef_[0], atol=1e-4)
    assert abs(run.b[-1] - clf.intercept_[0]) < 1e-4
    ours = (overlap.X_test @ run.w[-1] + run.b[-1] > 0).astype(int)
    np.testing.assert_array_equal(ours, clf.predict(overlap.X_test.astype(np.float64)))


def test_sklearn_C_mapping():
    assert logistic.sklearn_C(0.5, 100, "sum") == pytest.approx(2.0)
    assert logistic.sklearn_C(0.5, 100, "mean") == pytest.approx(0.02)
    assert logistic.sklearn_C(0.0, 100) == math.inf


# --- the lecture's point: features fix the circles ----------------------------------------------------


def test_circles_need_hand_made_features():
    data = data2d.make_dataset("circles", 400, 0.05, 0.7, seed=0)
    cfg = TrainConfig(optimizer="gd", lr=0.01, num_steps=500)
    linear = logistic.train_dataset(data, (), cfg)
    curved = logistic.train_dataset(data, ("x1sq", "x2sq"), cfg)
    assert linear.test_acc[-1] < 0.65
    assert curved.test_acc[-1] > 0.95


# --- learning-rate lessons: oscillation and divergence ----------------------------------------------------


def test_too_large_learning_rate_oscillates(overlap):
    good = logistic.train_dataset(overlap, (), TrainConfig(lr=0.01, num_steps=200))
    bad = logistic.train_dataset(overlap, (), TrainConfig(lr=10.0, num_steps=200))
    assert logistic.oscillation_hint(good) is None and good.loss_increases == 0
    assert bad.loss_increases > 10 and "too" in logistic.oscillation_hint(bad)
    assert bad.train_loss[-1] > good.train_loss[-1]


def test_divergence_is_caught_and_explained(overlap):
    cfg = TrainConfig(lr=1.0, num_steps=300, weight_decay=10.0)
    run = logistic.train_dataset(overlap, (), cfg)
    assert run.status == "diverged" and run.num_steps < 300
    assert "learning rate" in run.reason
    for arr in (run.w, run.b, run.objective, run.train_loss, run.test_acc):
        assert np.isfinite(arr).all()
    assert "αλ" in logistic.divergence_hint(cfg)


# --- the loss landscape -----------------------------------------------------------------------------------


def test_landscape_is_the_loss_at_each_grid_point(overlap):
    feats = ("x1sq",)
    w = np.array([0.3, -0.7, 1.1], dtype=np.float32)
    land = logistic.loss_landscape(
        overlap.X_train, overlap.y_train, w, 0.2, (-3, 2, -1, 4), feature_names=feats, weight_decay=0.1, resolution=100
    )
    assert land.loss.shape == (100, 100)
    Phi = features.expand(torch.as_tensor(overlap.X_train), feats)
    y = torch.as_tensor(overlap.y_train)
    for i, j in ((0, 0), (13, 71), (99, 42)):  # row i is w₂, column j is w₁
        wij = torch.tensor([land.w1s[j], land.w2s[i], 1.1])
        expected = logistic.loss(Phi, y, wij, 0.2, 0.1, "sum")
        assert float(expected) == pytest.approx(float(land.loss[i, j]), rel=1e-4)


def test_landscape_grows_to_show_the_minimum(overlap):
    run = logistic.train_dataset(overlap, (), TrainConfig(lr=0.001, num_steps=20))  # a short path near 0
    land = logistic.landscape_around(overlap.X_train, overlap.y_train, run.w[-1], run.b[-1], [run.w[:, :2]])
    i, j = np.unravel_index(np.argmin(land.loss), land.loss.shape)
    assert 0 < i < 99 and 0 < j < 99
    # The path is inside the window too.
    assert land.w1s[0] <= run.w[:, 0].min() and run.w[:, 0].max() <= land.w1s[-1]


# --- features, specs, words -----------------------------------------------------------------------------


def test_features_expand_in_canonical_order():
    X = torch.tensor([[2.0, 3.0]])
    Phi = features.expand(X, ("x1x2", "x1sq"))
    torch.testing.assert_close(Phi, torch.tensor([[2.0, 3.0, 4.0, 6.0]]))
    assert features.labels(("x1x2", "x1sq")) == ["x₁", "x₂", "x₁²", "x₁x₂"]
    with pytest.raises(ValueError):
        features.expand(X, ("x3",))


def test_specs_round_trip_through_the_url():
    changed = {
        "dataset": "circles",
        "features": ("x1sq", "x2sq"),
        "optimizer": "adam",
        "lr": 0.2,
        "weight_decay": 0.1,
        "compare": True,
    }
    values = {**params.defaults(logistic.SPECS), **changed}
    query = params.to_query(logistic.SPECS, values)
    back, problems = params.from_query(logistic.SPECS, query)
    assert not problems and back == values
    cfg = params.make_config(TrainConfig, back)
    assert cfg.optimizer == "adam" and cfg.lr == 0.2


def test_latex_model_shows_the_numbers():
    text = logistic.latex_model([-3.43, 2.5, 0.25], -0.17, ("x2sq",))
    assert "-3.43" in text and "2.5" in text and "x_2^2" in text and "- 0.17" in text
    assert logistic.latex_number(float("nan")) == r"\text{NaN}"
    assert r"10^{18}" in logistic.latex_number(1e18)
