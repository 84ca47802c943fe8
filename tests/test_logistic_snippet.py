"""Lab 1's "Show me the code": plain PyTorch + numpy that runs outside the repo and says what autograd computes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from lab import codegen, data2d, logistic
from lab.logistic import TrainConfig
from lab.logistic.snippet import DATA_CODE, data_code, grad_comment


def _comment(code: str) -> str:
    return next(line for line in code.splitlines() if line.strip().startswith("# autograd:"))


# --- the comment after loss.backward() follows the reduction ---------------------------------------------


@pytest.mark.parametrize("optimizer", ["gd", "sgd"])
def test_gradient_comment_follows_the_reduction(optimizer):
    total = _comment(logistic.snippet(TrainConfig(optimizer=optimizer, reduction="sum")))
    mean = _comment(logistic.snippet(TrainConfig(optimizer=optimizer, reduction="mean")))
    # The old comment said "w.grad = mean(...)" under the default sum.
    assert "mean" not in total and "(1/" not in total and "Σ (p - y)·x" in total and "summed" in total
    n = "N" if optimizer == "gd" else "B"
    assert f"(1/{n}) Σ (p - y)·x" in mean and "mean" in mean
    assert "λw" not in total and "λw" in _comment(logistic.snippet(TrainConfig(weight_decay=0.1)))


@pytest.mark.parametrize("reduction", logistic.REDUCTIONS)
def test_the_snippet_asserts_its_comment_and_a_wrong_formula_fails(reduction):
    cfg = TrainConfig(optimizer="sgd", reduction=reduction, lr=0.05, num_steps=5, weight_decay=0.1)
    code = logistic.snippet(cfg, ("x1sq",))
    codegen.run_snippet(code)  # the by-hand formula under the comment equals autograd's w.grad
    _, right = grad_comment(reduction, "sgd", 0.1)
    _, wrong = grad_comment("mean" if reduction == "sum" else "sum", "sgd", 0.1)
    assert right in code
    with pytest.raises(AssertionError):
        codegen.run_snippet(code.replace(right, wrong))


# --- the data are generated inline, exactly the lab's ----------------------------------------------------


@pytest.mark.parametrize("dataset", data2d.CLASSIFICATION)
@pytest.mark.parametrize(("n", "noise", "fraction", "seed"), [(200, 0.1, 0.7, 0), (57, 0.3, 0.4, 11)])
def test_inline_data_equal_the_labs(dataset, n, noise, fraction, seed):
    ns: dict = {"np": np}
    exec(data_code(dataset, n, noise, fraction, seed), ns)
    lab = data2d.make_dataset(dataset, n, noise, fraction, seed)
    for name in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(ns[name], getattr(lab, name))
        assert ns[name].dtype == getattr(lab, name).dtype
    assert set(DATA_CODE) == set(data2d.CLASSIFICATION)  # every dataset the page offers


@pytest.mark.parametrize(
    "text",
    [
        "x1,x2,label\n0.1,0.2,0\n0.3,0.4,1\n\n0.5,-0.6,1\n1e-3,2,0\n",
        "label,a,b,extra\n1,0.5,0.25,9\n0,-0.5,0.75,9\n1,0.0,1.5,9\n",  # label first; a third feature column is ignored
        "\ufeffX1,X2,Y\n1,2,1\n3,4,0\n",  # a byte-order mark and capitals
        "1,2,0\n3,4,1\n5,6,1\n",  # no header: the last column is the label
    ],
)
def test_inline_csv_reader_equals_parse_csv(tmp_path, text):
    path = tmp_path / "points.csv"
    path.write_bytes(text.encode())
    X, y = data2d.parse_csv(path.read_bytes(), "points.csv")
    ns: dict = {"np": np}
    exec(data_code("overlap", 0, 0.0, 0.5, 3, csv_name=str(path)), ns)
    lab = data2d.split(X, y, 0.5, 3, "points.csv")
    for name in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(ns[name], getattr(lab, name))


# --- it runs outside the repo: a fresh interpreter, a temp dir, no lab on sys.path ------------------------


def _run_outside(code: str, cwd) -> str:
    script = cwd / "logistic_regression.py"
    script.write_text(code)
    probe = subprocess.run([sys.executable, "-I", "-c", "import lab"], cwd=cwd, capture_output=True, text=True)
    assert probe.returncode != 0, "the lab must not be importable here, or this test proves nothing"
    done = subprocess.run([sys.executable, "-I", script.name], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _printed_w(stdout: str) -> np.ndarray:
    return np.array(json.loads(re.search(r"w = (\[.*?\])", stdout).group(1)))


def test_snippet_runs_outside_the_repo(tmp_path):
    cfg = TrainConfig(optimizer="momentum", lr=0.05, num_steps=30, reduction="mean", seed=5)
    feats = ("x1x2", "sin1")
    code = logistic.snippet(cfg, feats, dataset="moons", n=120, noise=0.2, train_fraction=0.6)
    assert "lab" not in re.findall(r"^\s*(?:from|import)\s+(\w+)", code, flags=re.M)
    run = logistic.train_dataset(data2d.make_dataset("moons", 120, 0.2, 0.6, 5), feats, cfg)
    np.testing.assert_allclose(_printed_w(_run_outside(code, tmp_path)), run.w[-1], atol=1e-5)


def test_snippet_with_an_uploaded_csv_runs_outside_the_repo(tmp_path):
    X, y = data2d.make_points("circles", 150, 0.05, seed=2)
    (tmp_path / "my points.csv").write_bytes(data2d.to_csv(X, y))
    cfg = TrainConfig(optimizer="adam", lr=0.05, num_steps=40, seed=1)
    code = logistic.snippet(cfg, ("x1sq", "x2sq"), train_fraction=0.7, csv_name="my points.csv")
    parsed = data2d.parse_csv((tmp_path / "my points.csv").read_bytes(), "my points.csv")
    run = logistic.train_dataset(data2d.split(*parsed, 0.7, 1, "my points.csv"), ("x1sq", "x2sq"), cfg)
    np.testing.assert_allclose(_printed_w(_run_outside(code, tmp_path)), run.w[-1], atol=1e-5)
