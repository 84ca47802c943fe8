"""Unit tests of lab.mlp, lab.init and lab.mlp_figures: the lecture's facts, checked against torch."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from lab import codegen, data2d, mlp
from lab import init as lab_init
from lab import mlp_figures as mf

SPIRAL = mlp.DataConfig("spiral", n=600, noise=0.02, train_fraction=0.5, seed=0)
SPIRAL_NET = mlp.NetConfig(hidden=(8, 8), activations=("tanh", "tanh"))
SPIRAL_TRAIN = mlp.TrainConfig(optimizer="adam", lr=0.02, batch_size=16)
SPIRAL_BUDGET = 300  # epochs of 19 minibatches: the fixed step budget


def _trainer(data=None, net=None, cfg=None, seed=0, device="cpu"):
    data = data if data is not None else mlp.make_data(mlp.DataConfig("circles", n=120, seed=0))
    return mlp.Trainer.create(data, net or mlp.NetConfig(), cfg or mlp.TrainConfig(), seed=seed, device=device)


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --- features ------------------------------------------------------------------------


def test_features_match_their_formulas():
    X = torch.tensor([[0.5, -0.25], [-1.0, 2.0]])
    F = mlp.features(X, list(mlp.FEATURES))
    x1, x2 = X[:, 0], X[:, 1]
    expected = torch.stack([x1, x2, x1**2, x2**2, x1 * x2, torch.sin(math.pi * x1), torch.sin(math.pi * x2)], 1)
    torch.testing.assert_close(F, expected)
    assert mlp.features(X, ["x1x2", "x1"]).shape == (2, 2)
    with pytest.raises(ValueError):
        mlp.features(X, [])


# --- linear collapse -----------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(5,), (4, 3), (8, 2, 6)])
def test_linear_collapse_equals_the_network_to_1e_5(hidden):
    torch.manual_seed(0)
    model = mlp.build_mlp(2, hidden, ["identity"] * len(hidden), 1)
    for p in model.parameters():  # random weights, not just the default init
        nn.init.normal_(p, 0.0, 1.0)
    X = torch.randn(500, 2)
    W, b = mlp.collapse_linear(model)
    assert W.shape == (1, 2) and b.shape == (1,)
    with torch.no_grad():
        torch.testing.assert_close(model(X).double(), X.double() @ W.T + b, atol=1e-5, rtol=1e-5)
    assert mlp.is_linear(model)


def test_collapse_by_hand_is_the_slides_formula():
    torch.manual_seed(1)
    model = mlp.build_mlp(3, (4,), ["identity"], 1)
    hidden, out = mlp.linear_layers(model)
    w, b = mlp.collapse_two_layers_by_hand(
        hidden.weight.detach(), hidden.bias.detach(), out.weight[0].detach(), out.bias[0].detach()
    )
    W, B = mlp.collapse_linear(model)
    torch.testing.assert_close(w.double(), W[0], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(b.double(), B[0], atol=1e-6, rtol=1e-6)


def test_collapse_fails_with_a_nonlinearity_and_the_trainer_reports_it():
    lin = _trainer(net=mlp.NetConfig(hidden=(6, 6), activations=("identity", "identity")))
    lin.train(20)
    c = lin.collapse()
    assert c.linear and c.max_diff < 1e-5
    curved = _trainer(net=mlp.NetConfig(hidden=(6, 6), activations=("tanh", "tanh")))
    curved.train(20)
    c = curved.collapse()
    assert not c.linear and c.max_diff > 1e-3


# --- symmetry ------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["zeros", "constant"])
def test_symmetric_init_keeps_hidden_units_identical_after_50_steps(scheme):
    # sigmoid: with zeros, σ(0) = 0.5 ≠ 0, so the weights really move (tanh/ReLU would leave them at 0).
    net = mlp.NetConfig(hidden=(5, 4), activations=("sigmoid", "sigmoid"), init=scheme)
    t = _trainer(net=net, cfg=mlp.TrainConfig(lr=0.5, batch_size=120))  # full batch: 1 step per epoch
    before = _params(t.model)
    t.train(50)
    assert t.history.completed_steps == 50
    moved = max(float((v - before[k]).abs().max()) for k, v in t.model.state_dict().items())
    assert moved > 1e-3, "the weights must actually change for the test to mean anything"
    for layer in mlp.linear_layers(t.model)[:-1]:
        rows = torch.cat([layer.weight, layer.bias[:, None]], 1)
        torch.testing.assert_close(rows, rows[:1].expand_as(rows), atol=1e-6, rtol=0)
    assert max(mlp.symmetry_gaps(t.model)) < 1e-6


@pytest.mark.parametrize("scheme", ["normal", "uniform", "xavier", "kaiming"])
def test_random_init_breaks_the_symmetry(scheme):
    net = mlp.NetConfig(hidden=(5, 4), activations=("sigmoid", "sigmoid"), init=scheme)
    t = _trainer(net=net, cfg=mlp.TrainConfig(lr=0.5, batch_size=120))
    t.train(50)
    assert min(mlp.symmetry_gaps(t.model)) > 1e-3
    assert len(t.history.snapshots) == 51  # the meter over training: epoch 0 … 50


def test_symmetry_gap_is_the_largest_pairwise_difference():
    model = mlp.build_mlp(2, (3,), ["tanh"], 1)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.0, 1.0], [0.5, 1.0], [0.0, 1.0]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.0, -2.0]))
    assert mlp.symmetry_gaps(model) == [2.0]  # units 1 and 3 differ by 2 in the bias


# --- learning the spiral -------------------------------------------------------------------


def test_spiral_two_tanh_layers_of_8_reach_95_percent():
    t = _trainer(mlp.make_data(SPIRAL), SPIRAL_NET, SPIRAL_TRAIN)
    t.train(SPIRAL_BUDGET)
    assert t.history.ok
    assert t.history.last("test_accuracy") >= 0.95 - 1e-6  # float32 mean of 300 hits


def test_spiral_with_identity_activations_stays_below_70_percent():
    net = mlp.NetConfig(hidden=(8, 8), activations=("identity", "identity"))
    t = _trainer(mlp.make_data(SPIRAL), net, SPIRAL_TRAIN)
    t.train(SPIRAL_BUDGET)
    assert max(t.history.metrics["test_accuracy"]) < 0.70


def test_multiclass_blobs_use_softmax_and_learn():
    data = mlp.make_data(mlp.DataConfig("blobs", n=200, noise=0.02, num_classes=4, seed=1))
    t = _trainer(data, SPIRAL_NET, SPIRAL_TRAIN)
    assert t.num_outputs == 4
    t.train(40)
    assert t.history.last("test_accuracy") > 0.9
    grid = t.grid_outputs(20)
    assert grid.output.shape == (4, 20, 20)
    np.testing.assert_allclose(grid.output.sum(0), 1.0, atol=1e-5)


def test_regression_learns_the_plane():
    data = mlp.make_data(mlp.DataConfig("plane", n=200, noise=0.0, seed=0))
    t = _trainer(data, mlp.NetConfig(hidden=(), activations=()), mlp.TrainConfig(lr=0.1, batch_size=10))
    assert t.task == "regression" and t.loss_name == "regression"
    t.train(50)
    assert t.history.last("test_loss") < 1e-3
    assert "accuracy" not in t.history.metrics


# --- reproducibility -----------------------------------------------------------------------


def test_seeded_cpu_runs_are_bit_identical():
    cfg = mlp.TrainConfig(optimizer="adam", lr=0.01, l1=0.001, l2=0.001, schedule="cosine", num_epochs=30)
    a, b = _trainer(cfg=cfg, seed=7), _trainer(cfg=cfg, seed=7)
    torch.manual_seed(123)  # the global RNG must not matter: private generators
    a.train(30)
    torch.manual_seed(999)
    b.train(30)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert a.history.metrics == b.history.metrics
    c = _trainer(cfg=cfg, seed=8)
    c.train(30)
    assert not torch.equal(a.model[0].weight, c.model[0].weight)


def test_training_in_two_clicks_equals_one_run():
    a, b = _trainer(seed=3), _trainer(seed=3)
    a.train(20)
    b.train(5)
    b.train(15)
    assert b.epoch == 20
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


# --- backprop by hand ----------------------------------------------------------------------


@pytest.mark.parametrize("act", list(mlp.ACTIVATIONS))
@pytest.mark.parametrize(("out", "loss"), [(1, "ce"), (3, "ce"), (1, "regression")])
def test_manual_gradients_equal_autograd(act, out, loss):
    torch.manual_seed(0)
    model = mlp.build_mlp(3, (5, 4), [act, act], out).double()
    X = torch.randn(32, 3, dtype=torch.float64)
    y = torch.randn(32, dtype=torch.float64) if loss == "regression" else torch.randint(0, max(2, out), (32,))
    mlp.data_loss(model(X), y, loss).backward()
    for layer, (dW, db) in zip(mlp.linear_layers(model), mlp.manual_gradients(model, X, y, loss), strict=True):
        torch.testing.assert_close(dW, layer.weight.grad)
        torch.testing.assert_close(db, layer.bias.grad)


def test_gradient_check_on_a_trainer_is_tiny():
    t = _trainer(net=mlp.NetConfig(hidden=(4, 3), activations=("relu", "softplus")))
    checks = mlp.gradient_check(t)
    assert len(checks) == 6
    assert all(c.max_abs_diff < 1e-5 for c in checks)
    assert all(p.grad is None for p in t.model.parameters())  # the check leaves no gradients behind
    assert mlp.gradient_check(_trainer(cfg=mlp.TrainConfig(loss="mse"))) is None


# --- initialisation ------------------------------------------------------------------------


def test_xavier_and_kaiming_by_hand_match_torch():
    g = torch.Generator().manual_seed(0)
    W = torch.empty(400, 600)
    bound = lab_init.xavier_bound(600, 400, gain=5 / 3)
    nn.init.xavier_uniform_(W, gain=nn.init.calculate_gain("tanh"), generator=g)
    assert float(W.abs().max()) <= bound + 1e-6 and float(W.abs().max()) > 0.99 * bound
    nn.init.kaiming_normal_(W, nonlinearity="relu", generator=g)
    assert abs(float(W.std()) - lab_init.kaiming_std(600)) < 0.01 * lab_init.kaiming_std(600)


def test_init_schemes():
    model = mlp.build_mlp(2, (3,), ["tanh"], 1)
    lab_init.init_network(model, "zeros")
    assert all(float(p.detach().abs().max()) == 0 for p in model.parameters())
    lab_init.init_network(model, "constant", constant=0.3)
    assert all(torch.all(p == 0.3) for p in model.parameters())
    lab_init.init_network(model, "uniform", seed=1)
    w = model[0].weight.detach()
    assert float(w.min()) >= 0 and float(w.max()) <= 0.1 and float(model[0].bias.detach().abs().max()) == 0
    lab_init.init_network(model, "normal", sigma=0.01, seed=1)
    assert float(model[0].weight.detach().abs().max()) < 0.05
    with pytest.raises(ValueError):
        lab_init.init_linear(model[0], "ones")


# --- divergence ----------------------------------------------------------------------------


def test_lr_10_is_diagnosed_as_divergence():
    t = _trainer(cfg=mlp.TrainConfig(lr=10.0))
    t.train(100)
    assert "diverg" in t.diagnosis().lower()
    ok = _trainer(cfg=mlp.TrainConfig(lr=0.03))
    ok.train(20)
    assert ok.diagnosis() == ""


def test_nan_stops_training_with_a_reason():
    data = mlp.make_data(mlp.DataConfig("multi_gaussian", n=100, seed=0))
    t = _trainer(data, mlp.NetConfig(hidden=(8,), activations=("relu",)), mlp.TrainConfig(lr=10.0, batch_size=100))
    h = t.train(200)
    assert h.status == "diverged" and h.completed_steps < 200
    assert "learning rate" in t.diagnosis()
    assert t.train(10).completed_steps == h.completed_steps  # a diverged run does not continue


# --- export ----------------------------------------------------------------------------------


def test_state_dict_download_loads_into_plain_pytorch():
    t = _trainer(net=mlp.NetConfig(hidden=(3,), activations=("relu",)))
    t.train(3)
    state = torch.load(io.BytesIO(t.state_dict_bytes()), weights_only=True)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    model.load_state_dict(state)
    X = t.X_test
    torch.testing.assert_close(model(X), t.model(X))


@pytest.mark.parametrize(
    ("net", "cfg"),
    [
        (mlp.NetConfig(), mlp.TrainConfig()),
        (
            mlp.NetConfig(
                features=("x1", "x2", "x1x2", "sin1"), hidden=(5, 3), activations=("relu", "sigmoid"), init="kaiming"
            ),
            mlp.TrainConfig(optimizer="momentum", lr=0.05, l1=0.001, l2=0.002, schedule="step", batch_size=7),
        ),
        (
            mlp.NetConfig(hidden=(4,), activations=("softplus",), init="normal", sigma=0.5),
            mlp.TrainConfig(optimizer="adam", loss="mse"),
        ),
    ],
)
def test_code_snippet_reproduces_the_run_bit_for_bit(net, cfg):
    data_cfg = mlp.DataConfig("xor", n=100, seed=2)
    t = _trainer(mlp.make_data(data_cfg), net, cfg, seed=5)
    t.train(4)
    source = mlp.code_snippet(data_cfg, net, cfg, seed=5, num_epochs=4, num_outputs=t.num_outputs)
    ns = codegen.run_snippet(source)
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, ns["model"].state_dict()[k]), k
    assert ns["test_loss"] == pytest.approx(t.history.last("test_loss"), abs=1e-6)


def test_code_snippet_for_an_uploaded_csv(tmp_path, monkeypatch):
    X, y = data2d.make_points("blobs", 60, 0.1, seed=0, num_classes=3)
    (tmp_path / "mine.csv").write_bytes(data2d.to_csv(X, y))
    monkeypatch.chdir(tmp_path)
    Xp, yp = data2d.parse_csv((tmp_path / "mine.csv").read_bytes(), max_classes=6)
    data = data2d.split(Xp, yp, 0.5, 4, "mine.csv")
    t = _trainer(data, seed=4)
    t.train(2)
    source = mlp.code_snippet(
        None, t.net, t.cfg, seed=4, num_epochs=2, num_outputs=3, csv_name="mine.csv", train_fraction=0.5
    )
    ns = codegen.run_snippet(source)
    torch.testing.assert_close(ns["model"][0].weight, t.model[0].weight, atol=0, rtol=0)


# --- threads, grid, figures ----------------------------------------------------------------


def test_small_models_train_on_one_thread_and_restore_the_setting():
    before = torch.get_num_threads()
    model = mlp.build_mlp(2, (4,), ["tanh"], 1)
    with mlp.small_model_threads(model, "cpu"):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_grid_outputs_shapes_and_replay_snapshots():
    t = _trainer(net=mlp.NetConfig(features=("x1", "x2", "x1sq"), hidden=(4, 2), activations=("tanh", "relu")))
    t.train(10)
    g = t.grid_outputs(16)
    assert g.inputs.shape == (3, 16, 16)
    assert [h.shape for h in g.hidden] == [(4, 16, 16), (2, 16, 16)]
    assert g.output.shape == (1, 16, 16) and g.output.min() >= 0 and g.output.max() <= 1
    # the grid's top-left value is the model at (x_min, y_min)
    x0, y0 = g.xs[0], g.ys[0]
    with torch.no_grad():
        p = torch.sigmoid(t.model(mlp.features(torch.tensor([[x0, y0]]), t.net.features)))
    assert g.output[0, 0, 0] == pytest.approx(float(p), abs=1e-6)
    assert [s.epoch for s in t.replay][:2] == [0, 1]
    early = t.grid_outputs(16, state=t.replay[0].state)
    assert not np.allclose(early.output, g.output)


def test_figures_have_titles_and_legends():
    t = _trainer(net=mlp.NetConfig(hidden=(3,), activations=("tanh",)))
    t.train(2)
    g = t.grid_outputs(12)
    linears = mlp.linear_layers(t.model)
    thumbs = [
        mf.neuron_images(g.inputs, size=8),
        mf.neuron_images(g.hidden[0], size=8),
        mf.neuron_images(g.output, size=8),
    ]
    fig = mf.network_figure(
        [m.weight.detach().numpy() for m in linears],
        [m.bias.detach().numpy() for m in linears],
        input_labels=["X₁", "X₂"],
        thumbnails=thumbs,
    )
    assert fig.layout.title.text and len(fig.layout.images) == 1  # one picture, hover/click markers on top
    names = {tr.name for tr in fig.data if tr.showlegend is not False}
    assert names <= {"weight > 0", "weight < 0", "dead link (w = 0)"} and names
    links = next(tr for tr in fig.data if tr.name == "links")
    assert len(links.customdata) == 2 * 3 + 3 * 1
    assert fig.layout.yaxis.scaleanchor == "x"  # equal aspect: square tiles
    probs = np.stack([g.output[0], 1 - g.output[0], np.zeros_like(g.output[0])])
    cm = mf.class_map(g.xs, g.ys, probs, t.data.X_train, t.data.y_train, discretize=True)
    assert cm.layout.title.text and cm.layout.xaxis.title.text == "x₁"
    rm = mf.regression_map(g.xs, g.ys, g.output[0], t.data.X_train, t.data.y_train.astype(float))
    assert rm.layout.title.text
    sc = mf.symmetry_chart([0, 1, 2], [[0.0, 0.1], [0.0, 0.2], [0.0, 0.3]])
    assert sc.layout.yaxis.type == "log" and len(sc.data) == 2
    images = mf.neuron_images(np.zeros((2, 5, 5)), size=10)
    assert images[0].shape == (10, 10, 3) and images[0].dtype == np.uint8
    assert (images[0] == 235).all()  # a dead (all-zero) unit is drawn blank, not as a colour
    zero = mf.network_figure([np.zeros((2, 2)), np.zeros((1, 2))], [np.zeros(2), np.zeros(1)], input_labels=["a", "b"])
    assert {tr.name for tr in zero.data if tr.showlegend is not False} == {"dead link (w = 0)"}


def test_every_spec_default_builds_a_config():
    from lab.params import defaults, make_config

    values = defaults(mlp.DATA_SPECS + mlp.TRAIN_SPECS)
    assert make_config(mlp.DataConfig, values) == mlp.DataConfig()
    assert make_config(mlp.TrainConfig, values) == mlp.TrainConfig()
    for i in range(1, 7):
        w, a = mlp.layer_specs(i)
        assert w.default >= 1 and a.default in mlp.ACTIVATIONS


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_starts_like_the_cpu_run_and_trains():
    cpu, gpu = _trainer(seed=2), _trainer(seed=2, device="cuda")
    for k, v in cpu.model.state_dict().items():
        torch.testing.assert_close(v, gpu.model.state_dict()[k].cpu(), atol=0, rtol=0)
    gpu.train(30)
    cpu.train(30)
    assert gpu.history.ok and next(gpu.model.parameters()).is_cuda
    assert gpu.history.last("loss") == pytest.approx(cpu.history.last("loss"), abs=1e-3)
    assert gpu.grid_outputs(8).output.shape == (1, 8, 8)


def test_set_weight_by_hand_changes_the_output_and_marks_the_run():
    t = _trainer(net=mlp.NetConfig(hidden=(3,), activations=("tanh",)))
    before = t.grid_outputs(8).output
    old = t.set_weight(1, 0, 2, 5.0)
    assert float(t.model[2].weight.detach()[0, 2]) == 5.0 and old != 5.0
    assert t.edited
    assert not np.allclose(t.grid_outputs(8).output, before)


def test_replay_is_thinned_but_keeps_the_start_and_recent_epochs():
    t = _trainer()
    t.max_replay = 10
    t.train(50)
    epochs = [s.epoch for s in t.replay]
    assert epochs[0] == 0 and len(epochs) <= 11 and epochs == sorted(epochs)
    assert epochs[-1] >= 40


def test_update_keeps_the_optimiser_unless_its_settings_change():
    t = _trainer(cfg=mlp.TrainConfig(optimizer="adam"))
    t.train(3)
    opt = t.optimizer
    assert not t.update(mlp.TrainConfig(optimizer="adam", batch_size=5, l2=0.01, num_epochs=50))
    assert t.optimizer is opt and t.cfg.batch_size == 5
    assert t.update(mlp.TrainConfig(optimizer="adam", lr=0.1, batch_size=5))
    assert t.optimizer is not opt and t.optimizer.param_groups[0]["lr"] == 0.1
    assert t.epoch == 3  # the weights and the history stay
