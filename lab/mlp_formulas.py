"""The lecture's MLP formulas, written out and evaluated by hand (tests check them against torch).

- :data:`ACTIVATION_FORMULAS` and :func:`activation_by_hand`: σ, tanh, ReLU and
  softplus with their derivatives, as LaTeX and as numpy. The slide writes
  σ(a) = 1/(1+e^a); the logistic sigmoid is 1/(1+e^{−a}) (without the minus the
  curve falls instead of rising).
- :func:`mlp_formula_latex` / :func:`mlp_formula_by_hand`: the slide's
  P(y|x) = σ(Σⱼ wⱼᵒ f(Σᵢ wᵢⱼʰ xᵢ + bⱼʰ) + bᵒ) with the network's current numbers,
  and the same sum evaluated with loops. For regression the output is the raw
  ŷ = Σⱼ wⱼᵒ f(…) + bᵒ: no σ (the network is trained with MSE on it).
- :func:`collapse_latex`: the linear collapse P(y|x) = σ(w′·x + b′) (regression:
  ŷ = w′·x + b′) with numbers.
- :func:`signal_spread`: how the spread of activations (forward) and of
  gradients (backward) changes layer by layer at initialisation, per scheme —
  why N(0, 0.01) and U(0, 0.1) stay at chance while Xavier/He train.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lab.init import init_network
from lab.mlp_model import build_mlp, linear_layers

#: name → (f(a), f′(a)) in LaTeX.
ACTIVATION_FORMULAS: dict[str, tuple[str, str]] = {
    "sigmoid": (r"\sigma(a) = \frac{1}{1 + e^{-a}}", r"\sigma'(a) = \sigma(a)\,\bigl(1 - \sigma(a)\bigr)"),
    "tanh": (r"\tanh(a) = \frac{e^{a} - e^{-a}}{e^{a} + e^{-a}}", r"\tanh'(a) = 1 - \tanh^2(a)"),
    "relu": (
        r"\operatorname{ReLU}(a) = \max(0,\, a)",
        r"\operatorname{ReLU}'(a) = \begin{cases} 1 & a > 0 \\ 0 & a < 0 \end{cases}\ (\text{PyTorch: } 0 \text{ at } a = 0)",
    ),
    "softplus": (r"\operatorname{softplus}(a) = \ln\bigl(1 + e^{a}\bigr)", r"\operatorname{softplus}'(a) = \sigma(a)"),
}
ACTIVATION_NAMES = {"sigmoid": "sigmoid σ", "tanh": "tanh", "relu": "ReLU", "softplus": "softplus"}


def activation_by_hand(name: str, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(f(a), f′(a))`` from the formulas in :data:`ACTIVATION_FORMULAS`, in float64 numpy."""
    a = np.asarray(a, dtype=np.float64)
    sig = 1.0 / (1.0 + np.exp(-a))
    if name == "sigmoid":
        return sig, sig * (1 - sig)
    if name == "tanh":
        t = (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))
        return t, 1 - t**2
    if name == "relu":
        return np.maximum(0.0, a), (a > 0).astype(np.float64)
    if name == "softplus":
        return np.log1p(np.exp(a)), sig
    raise ValueError(f"unknown activation {name!r}; choose one of {list(ACTIVATION_FORMULAS)}")


def slide_sigmoid(a: np.ndarray) -> np.ndarray:
    """The slide's typo, 1/(1 + e^a): a *falling* curve, σ(−a)."""
    return 1.0 / (1.0 + np.exp(np.asarray(a, dtype=np.float64)))


# --- the MLP formula with numbers ---------------------------------------------------------------

_F_LATEX = {
    "sigmoid": r"\sigma",
    "tanh": r"\tanh",
    "relu": r"\operatorname{ReLU}",
    "softplus": r"\operatorname{softplus}",
    "identity": "",
}

GENERAL_FORMULA = (
    r"P(y{=}1 \mid x) = \sigma\Bigl(\sum_j w^o_j\, f\Bigl(\sum_i w^h_{ij}\, x_i + b^h_j\Bigr) + b^o\Bigr),"
    r"\qquad \text{slide: } f = \sigma"
)
COLLAPSE_FORMULA = (
    r"f(a) = a:\quad P(y{=}1 \mid x) = \sigma\Bigl(\sum_i w'_i\, x_i + b'\Bigr),\quad "
    r"w'_i = \sum_j w^o_j\, w^h_{ij},\quad b' = \sum_j w^o_j\, b^h_j + b^o"
)
#: Regression: the output is the raw ŷ, trained with MSE; there is no σ on it.
GENERAL_FORMULA_REGRESSION = (
    r"\hat y = \sum_j w^o_j\, f\Bigl(\sum_i w^h_{ij}\, x_i + b^h_j\Bigr) + b^o"
    r"\qquad \text{(regression: no } \sigma \text{ on the output)}"
)
COLLAPSE_FORMULA_REGRESSION = (
    r"f(a) = a:\quad \hat y = \sum_i w'_i\, x_i + b',\quad "
    r"w'_i = \sum_j w^o_j\, w^h_{ij},\quad b' = \sum_j w^o_j\, b^h_j + b^o"
)


def general_formula(task: str = "classification") -> str:
    """The one-hidden-layer formula: P(y=1|x) = σ(…) for classification, ŷ = … (no σ) for regression."""
    return GENERAL_FORMULA_REGRESSION if task == "regression" else GENERAL_FORMULA


def collapse_formula(task: str = "classification") -> str:
    """The linear collapse with σ (classification) or without (regression)."""
    return COLLAPSE_FORMULA_REGRESSION if task == "regression" else COLLAPSE_FORMULA


def _output_latex(body: str, task: str, big: bool = True) -> str:
    """``body`` wrapped as the output: σ(body) for classification, ŷ = body for regression."""
    if task == "regression":
        return r"\hat y = " + body
    left, right = (r"\Bigl(", r"\Bigr)") if big else (r"\bigl(", r"\bigr)")
    return r"P(y{=}1 \mid x) = \sigma" + left + body + right


def _num(v: float) -> str:
    return f"{v:.2f}"


def _signed_sum(coefs: Sequence[float], names: Sequence[str], bias: float, max_terms: int) -> str:
    parts = []
    shown = list(zip(coefs, names, strict=True))[:max_terms]
    for k, (c, n) in enumerate(shown):
        sign = "-" if c < 0 else ("+" if k else "")
        parts.append(f"{sign} {_num(abs(c))}\\,{n}")
    if len(coefs) > max_terms:
        parts.append(rf"+ \dots\ (\text{{{len(coefs) - max_terms} more}})")
    parts.append(("- " if bias < 0 else "+ ") + _num(abs(bias)))
    return " ".join(parts)


@torch.no_grad()
def mlp_formula_latex(
    model: nn.Sequential,
    activations: Sequence[str],
    input_names: Sequence[str],
    *,
    max_terms: int = 4,
    task: str = "classification",
) -> str | None:
    """The slide's formula with the current weights, for one hidden layer and one output (else None).

    Numbers are rounded to 2 decimals; sums longer than ``max_terms`` are cut
    with "… (k more)". ``input_names`` are LaTeX names of the inputs (x_1…).
    ``task="regression"`` writes ŷ = … without σ, as the network outputs it.
    """
    linears = linear_layers(model)
    if len(linears) != 2 or linears[1].out_features != 1:
        return None
    hidden, out = linears
    f = _F_LATEX[activations[0]]
    inner = []
    for j in range(hidden.out_features):
        wo = float(out.weight[0, j])
        s = _signed_sum(hidden.weight[j].tolist(), input_names, float(hidden.bias[j]), max_terms)
        term = rf"{_num(abs(wo))}\,{f}\bigl({s}\bigr)"
        inner.append(("- " if wo < 0 else ("+ " if j else "")) + term)
    if len(inner) > max_terms:
        inner = [*inner[:max_terms], rf"+ \dots\ (\text{{{len(inner) - max_terms} more}})"]
    bo = float(out.bias[0])
    return _output_latex(" ".join(inner) + (" - " if bo < 0 else " + ") + _num(abs(bo)), task)


@torch.no_grad()
def mlp_formula_by_hand(
    model: nn.Sequential, activations: Sequence[str], X: np.ndarray, *, task: str = "classification"
) -> np.ndarray:
    """The formula's value with explicit sums over i and j, for each row of ``X`` (N, D), float64.

    P(y=1|x) = σ(total) for classification; the raw ŷ = total for regression.
    """
    hidden, out = linear_layers(model)
    W, b = hidden.weight.double().numpy(), hidden.bias.double().numpy()
    wo, bo = out.weight.double().numpy()[0], float(out.bias[0])
    result = np.empty(len(X))
    for n, x in enumerate(np.asarray(X, dtype=np.float64)):
        total = bo
        for j in range(W.shape[0]):
            a = sum(W[j, i] * x[i] for i in range(W.shape[1])) + b[j]
            h = a if activations[0] == "identity" else activation_by_hand(activations[0], a)[0]
            total += wo[j] * float(h)
        result[n] = total if task == "regression" else 1.0 / (1.0 + math.exp(-total))
    return result


def collapse_latex(
    weight: np.ndarray, bias: np.ndarray, input_names: Sequence[str], *, task: str = "classification"
) -> str:
    """P(y=1|x) = σ(w′·x + b′) (regression: ŷ = w′·x + b′) with the collapsed numbers.

    One output: ``weight`` (1, D), ``bias`` (1,).
    """
    s = _signed_sum(list(np.asarray(weight)[0]), input_names, float(np.asarray(bias)[0]), max_terms=8)
    return _output_latex(s, task, big=False)


# --- signal spread at initialisation ---------------------------------------------------------------

SPREAD_SCHEMES: dict[str, dict] = {
    "N(0, 0.01²): σ = 0.01": {"scheme": "normal", "sigma": 0.01},
    "N(0, 0.01): σ = 0.1": {"scheme": "normal", "sigma": 0.1},
    "U(0, 0.1)": {"scheme": "uniform"},
    "Xavier": {"scheme": "xavier"},
    "He / Kaiming": {"scheme": "kaiming"},
}


@dataclass(frozen=True)
class Spread:
    """Per hidden layer, at initialisation, for one scheme."""

    label: str  # e.g. "Xavier"
    activation_std: list[float]  # std of each hidden layer's outputs over a batch
    activation_mean: list[float]  # their mean (U(0, 0.1) is not zero-mean)
    grad_std: list[float]  # std of ∂L/∂W of each hidden layer's weights


def signal_spread(
    activation: str,
    *,
    width: int = 32,
    depth: int = 6,
    in_features: int = 2,
    n: int = 512,
    seed: int = 0,
    schemes: dict[str, dict] | None = None,
) -> list[Spread]:
    """Forward activation spread and backward gradient spread per layer, for each init scheme.

    A ``depth`` × ``width`` network with ``activation`` everywhere gets
    standard-normal inputs (N, ``in_features``); the loss is BCE against random
    0/1 labels. Draws use private generators (same ``seed`` → same numbers).
    """
    g = torch.Generator().manual_seed(seed + 7)
    X = torch.randn(n, in_features, generator=g)
    y = torch.randint(0, 2, (n,), generator=g).double()
    spreads = []
    for label, kw in (schemes or SPREAD_SCHEMES).items():
        model = build_mlp(in_features, (width,) * depth, (activation,) * depth, 1).double()
        init_network(model, kw["scheme"], seed=seed, sigma=kw.get("sigma", 0.01), activations=(activation,) * depth)
        outs, a = [], X.double()
        for module in model:
            a = module(a)
            if not isinstance(module, nn.Linear):
                a.retain_grad()
                outs.append(a)
        loss = nn.functional.binary_cross_entropy_with_logits(a[:, 0], y)
        loss.backward()
        hidden = linear_layers(model)[:-1]
        spreads.append(
            Spread(
                label,
                [float(o.detach().std()) for o in outs],
                [float(o.detach().mean()) for o in outs],
                [float(layer.weight.grad.std()) for layer in hidden],
            )
        )
    return spreads
