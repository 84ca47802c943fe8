"""The architecture calculator: shapes, receptive fields, parameters and cost of a conv/pool stack.

The lecture's quiz: a 3×100×100 image, 100 filters of 3×5×5, then
conv → pool → conv → pool. What is the blob size after the second pooling? How
many image pixels does one cell after the second convolution depend on? Which
layer is hardest to compute? Which has the most parameters?

:func:`analyse` answers with arithmetic (the formulas below); tests check it
against a real ``nn.Sequential`` (:func:`build_sequential`) run on a tensor,
against ``torch.utils.flop_counter``, and check receptive fields by gradients
(:func:`receptive_field_by_gradient`).

Per layer, with input jump j (input pixels between neighbouring cells) and
receptive field r:

- conv k, stride s, padding p, dilation 1: ``n' = ⌊(n + 2p − k)/s⌋ + 1``,
  ``r' = r + (k − 1)·j``, ``j' = j·s``, params ``C_out·(C_in·k² + 1)``,
  multiply-adds ``C_out·H'·W'·C_in·k²``;
- pool k, stride s: ``n' = ⌊(n − k)/s⌋ + 1``, same r/j rule, no parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from lab.conv import output_size


class ArchitectureError(ValueError):
    """A stack description that cannot be parsed; ``str()`` is for the student."""


@dataclass(frozen=True)
class Layer:
    """One layer of the stack."""

    kind: str  # "conv", "max pool" or "mean pool"
    kernel: int  # k (square)
    stride: int = 1
    padding: int = 0  # conv only
    filters: int = 0  # conv only: C_out

    @property
    def is_conv(self) -> bool:
        return self.kind == "conv"

    def label(self) -> str:
        if self.is_conv:
            return f"conv {self.filters}×(C×{self.kernel}×{self.kernel}), s={self.stride}, p={self.padding}"
        return f"{self.kind} {self.kernel}×{self.kernel}, s={self.stride}"


#: The lecture's quiz stack (the second conv's 100 filters of 5×5 are our choice; the slide leaves them open).
LECTURE_INPUT = (3, 100, 100)
LECTURE_STACK = (
    Layer("conv", 5, 1, 0, 100),
    Layer("max pool", 2, 2),
    Layer("conv", 5, 1, 0, 100),
    Layer("max pool", 2, 2),
)
LAYER_KINDS = ("conv", "max pool", "mean pool")

_TOKEN = re.compile(r"^(?P<kind>[cma])(?P<a>\d+)(?:k(?P<k>\d+))?(?:s(?P<s>\d+))?(?:p(?P<p>\d+))?$")


def format_stack(layers: tuple[Layer, ...] | list[Layer]) -> str:
    """Layers → compact text for the URL: ``c100k5s1p0-m2s2-…`` (c conv, m max pool, a mean pool)."""
    parts = []
    for L in layers:
        if L.is_conv:
            parts.append(f"c{L.filters}k{L.kernel}s{L.stride}p{L.padding}")
        else:
            parts.append(f"{'m' if L.kind == 'max pool' else 'a'}{L.kernel}s{L.stride}")
    return "-".join(parts)


def parse_stack(text: str) -> tuple[Layer, ...]:
    """Inverse of :func:`format_stack`; raises :class:`ArchitectureError` on anything else."""
    layers = []
    for token in [t for t in text.strip().lower().split("-") if t]:
        m = _TOKEN.match(token)
        if not m:
            raise ArchitectureError(f"“{token}” is not a layer (examples: c100k5s1p0 = conv, m2s2 = max pool).")
        a = int(m["a"])
        if m["kind"] == "c":
            layer = Layer("conv", int(m["k"] or 3), int(m["s"] or 1), int(m["p"] or 0), a)
        else:
            layer = Layer("max pool" if m["kind"] == "m" else "mean pool", a, int(m["s"] or a))
        validate_layer(layer)
        layers.append(layer)
    if len(layers) > 12:
        raise ArchitectureError("At most 12 layers, please.")
    return tuple(layers)


def validate_layer(layer: Layer) -> Layer:
    """Check one layer's numbers are sensible (1 ≤ k ≤ 15, 1 ≤ s ≤ 8, 0 ≤ p ≤ 7, 1 ≤ filters ≤ 1024)."""
    if layer.kind not in LAYER_KINDS:
        raise ArchitectureError(f"Unknown layer type “{layer.kind}”; use one of {', '.join(LAYER_KINDS)}.")
    if not 1 <= layer.kernel <= 15 or not 1 <= layer.stride <= 8:
        raise ArchitectureError(f"{layer.label()}: kernel must be 1–15 and stride 1–8.")
    if layer.is_conv and (not 1 <= layer.filters <= 1024 or not 0 <= layer.padding <= 7):
        raise ArchitectureError(f"{layer.label()}: filters must be 1–1024 and padding 0–7.")
    return layer


@dataclass
class LayerRow:
    """What one layer does to the blob."""

    index: int  # 1-based position in the stack
    layer: Layer
    in_shape: tuple[int, int, int]  # (C, H, W)
    out_shape: tuple[int, int, int]  # (C', H', W')
    receptive_field: int  # one output cell depends on r×r input pixels (per channel, ignoring borders)
    jump: int  # input pixels between neighbouring output cells
    params: int  # weights + biases
    macs: int  # multiply-adds (0 for pooling)
    compares: int  # pooling: max comparisons / additions (k² per output cell)


@dataclass
class Analysis:
    """The whole stack: rows up to the first impossible layer, and why it is impossible."""

    input_shape: tuple[int, int, int]
    rows: list[LayerRow]
    problem: str | None  # None when every layer has an output

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def heaviest(self) -> LayerRow | None:
        """The layer with the most multiply-adds."""
        return max(self.rows, key=lambda r: r.macs, default=None)

    def most_params(self) -> LayerRow | None:
        return max(self.rows, key=lambda r: r.params, default=None)


def analyse(input_shape: tuple[int, int, int], layers: tuple[Layer, ...] | list[Layer]) -> Analysis:
    """Walk the stack from ``input_shape (C, H, W)`` and fill one :class:`LayerRow` per layer."""
    C, H, W = input_shape
    r, j = 1, 1
    rows: list[LayerRow] = []
    for index, L in enumerate(layers, start=1):
        p = L.padding if L.is_conv else 0
        H2, W2 = output_size(H, L.kernel, L.stride, p), output_size(W, L.kernel, L.stride, p)
        if H2 < 1 or W2 < 1:
            what = "convolution" if L.is_conv else "pooling"
            return Analysis(
                input_shape,
                rows,
                f"Layer {index} ({L.label()}) is impossible: its input is only {H}×{W}, and a {L.kernel}×{L.kernel} "
                f"{what} with padding {p} needs at least {L.kernel - 2 * p}×{L.kernel - 2 * p} "
                f"(⌊({min(H, W)} + 2·{p} − {L.kernel})/{L.stride}⌋ + 1 = {min(H2, W2)}). "
                "Remove a layer, use a smaller kernel, or pad.",
            )
        C2 = L.filters if L.is_conv else C
        r, j = r + (L.kernel - 1) * j, j * L.stride
        params = L.filters * (C * L.kernel**2 + 1) if L.is_conv else 0
        macs = C2 * H2 * W2 * C * L.kernel**2 if L.is_conv else 0
        compares = 0 if L.is_conv else C2 * H2 * W2 * L.kernel**2
        rows.append(LayerRow(index, L, (C, H, W), (C2, H2, W2), r, j, params, macs, compares))
        C, H, W = C2, H2, W2
    return Analysis(input_shape, rows, None)


def build_sequential(in_channels: int, layers: tuple[Layer, ...] | list[Layer]) -> nn.Sequential:
    """The stack as ``nn.Sequential`` of ``nn.Conv2d`` / ``nn.MaxPool2d`` / ``nn.AvgPool2d``."""
    modules: list[nn.Module] = []
    C = in_channels
    for L in layers:
        if L.is_conv:
            modules.append(nn.Conv2d(C, L.filters, L.kernel, L.stride, L.padding))
            C = L.filters
        elif L.kind == "max pool":
            modules.append(nn.MaxPool2d(L.kernel, L.stride))
        else:
            modules.append(nn.AvgPool2d(L.kernel, L.stride))
    return nn.Sequential(*modules)


def receptive_field_by_gradient(
    input_shape: tuple[int, int, int], layers: tuple[Layer, ...] | list[Layer], upto: int
) -> tuple[int, int]:
    """``(rows, cols)`` of input pixels with a non-zero gradient for the centre cell after layer ``upto``.

    Weights are set to 1 and max pooling is replaced by mean pooling (same
    windows) so no path cancels or is masked by an argmax: every pixel the cell
    depends on gets a positive gradient.
    """
    layers = list(layers)[:upto]
    layers = [Layer("mean pool", L.kernel, L.stride) if L.kind == "max pool" else L for L in layers]
    model = build_sequential(input_shape[0], layers).double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
    X = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
    Y = model(X)
    Y[0, 0, Y.shape[-2] // 2, Y.shape[-1] // 2].backward()
    hit = X.grad[0].abs().sum(0) > 0  # (H, W)
    return int(hit.any(1).sum()), int(hit.any(0).sum())


@dataclass
class QuizAnswer:
    question: str
    answer: str
    why: str


def quiz(analysis: Analysis) -> list[QuizAnswer]:
    """The lecture's four questions, answered from the calculator (for any stack with ≥1 conv and ≥1 pool)."""
    rows = analysis.rows
    convs = [r for r in rows if r.layer.is_conv]
    pools = [r for r in rows if not r.layer.is_conv]
    answers = []
    if len(pools) >= 1:
        p = pools[1] if len(pools) > 1 else pools[0]
        nth = "second" if len(pools) > 1 else "first"
        answers.append(
            QuizAnswer(
                f"What is the blob size after the {nth} pooling?",
                f"{p.out_shape[0]}×{p.out_shape[1]}×{p.out_shape[2]}",
                f"Layer {p.index} takes {p.in_shape[1]}×{p.in_shape[2]} to ⌊({p.in_shape[1]} − {p.layer.kernel})/"
                f"{p.layer.stride}⌋ + 1 = {p.out_shape[1]} per side; pooling keeps the {p.out_shape[0]} channels.",
            )
        )
    if convs:
        c = convs[1] if len(convs) > 1 else convs[0]
        nth = "second" if len(convs) > 1 else "first"
        C0 = analysis.input_shape[0]
        answers.append(
            QuizAnswer(
                f"How many image pixels does one cell after the {nth} convolution depend on?",
                f"{c.receptive_field}×{c.receptive_field} = {c.receptive_field**2} pixels "
                f"({c.receptive_field**2 * C0} values with {C0} channels)",
                "Each layer widens the view by (k − 1)·jump, where jump is the input distance between neighbouring "
                "cells (it multiplies by every stride): "
                + " → ".join(f"{r.receptive_field}" for r in rows[: c.index])
                + ".",
            )
        )
    heavy, most = analysis.heaviest(), analysis.most_params()
    if heavy is not None and heavy.macs > 0:
        answers.append(
            QuizAnswer(
                "Which layer is the hardest to compute?",
                f"Layer {heavy.index} ({heavy.layer.label()}): {heavy.macs:,} multiply-adds",
                "Cost = output cells × work per cell = C_out·H'·W' × C_in·k². "
                + "; ".join(f"layer {r.index}: {r.macs:,}" for r in convs)
                + ". A deeper conv has fewer cells but each one reads many more channels.",
            )
        )
    if most is not None and most.params > 0:
        answers.append(
            QuizAnswer(
                "Which layer has the most parameters?",
                f"Layer {most.index} ({most.layer.label()}): {most.params:,} parameters",
                "Parameters = C_out·(C_in·k² + 1), independent of the image size. "
                + "; ".join(f"layer {r.index}: {r.params:,}" for r in convs)
                + ". Pooling has none.",
            )
        )
    return answers
