"""lab.training.run_steps: progress, snapshots, NaN/inf stop, cancellation — on real training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lab.training import run_steps


def _logistic_problem(lr: float):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 2, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).float()
    model = torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(i):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        loss.backward()
        opt.step()
        return {"loss": loss, "w0": model.weight[0, 0]}

    return model, step


def test_loss_decreases_and_history_is_recorded():
    _, step = _logistic_problem(lr=0.5)
    history = run_steps(step, 100)
    assert history.ok and history.status == "finished"
    assert history.completed_steps == 100
    assert history.steps == list(range(1, 101))
    assert history.metrics["loss"][0] == pytest.approx(math.log(2), abs=1e-6)  # zero weights: p = 0.5
    assert history.last("loss") < 0.2


def test_record_every_thins_curves_but_keeps_the_last_step():
    _, step = _logistic_problem(lr=0.5)
    history = run_steps(step, 25, record_every=10)
    assert history.steps == [10, 20, 25]


def test_snapshots_every_k_steps_include_the_start():
    model, step = _logistic_problem(lr=0.5)
    history = run_steps(step, 30, snapshot_fn=lambda i: model.weight.detach().clone(), snapshot_every=10)
    assert [s for s, _ in history.snapshots] == [0, 10, 20, 30]
    assert torch.equal(history.snapshots[0][1], torch.zeros(1, 2))
    assert torch.equal(history.snapshots[-1][1], model.weight.detach())


def test_progress_is_reported_and_reaches_the_end():
    _, step = _logistic_problem(lr=0.5)
    seen = []
    run_steps(
        step, 50, on_progress=lambda p: seen.append((p.step, p.fraction)), progress_every=10, progress_seconds=1e9
    )
    assert [s for s, _ in seen] == [10, 20, 30, 40, 50]
    assert seen[-1][1] == 1.0


def test_nan_loss_stops_with_a_reason():
    losses = iter([1.0, 0.5, float("nan"), 0.1])
    history = run_steps(lambda i: {"loss": next(losses)}, 4)
    assert history.status == "diverged"
    assert history.completed_steps == 3
    assert "step 3" in history.reason and "learning rate" in history.reason
    assert math.isnan(history.metrics["loss"][-1])


def test_exploding_learning_rate_diverges_to_inf():
    model = torch.nn.Linear(1, 1)
    X = torch.linspace(-50, 50, 64).unsqueeze(1)
    y = 3 * X
    opt = torch.optim.SGD(model.parameters(), lr=10.0)

    def step(i):
        opt.zero_grad()
        loss = F.mse_loss(model(X), y)
        loss.backward()
        opt.step()
        return {"loss": loss}

    history = run_steps(step, 500)
    assert history.status == "diverged"
    assert history.completed_steps < 500


def test_cancel_between_steps():
    _, step = _logistic_problem(lr=0.5)
    calls = []
    history = run_steps(step, 100, on_progress=lambda p: calls.append(p.step), progress_every=1,
                        should_stop=lambda: len(calls) >= 7)  # fmt: skip
    assert history.status == "cancelled"
    assert history.completed_steps == 7
    assert "7 steps" in history.reason


def test_continue_a_run():
    _, step = _logistic_problem(lr=0.5)
    history = run_steps(step, 10)
    history = run_steps(step, 5, start_step=10, history=history)
    assert history.completed_steps == 15
    assert history.steps[-1] == 15 and len(history.metrics["loss"]) == 15
