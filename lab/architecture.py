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

import itertools
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


#: The lecture's quiz stack (the second conv's 100 filters of 5×5 and both pools are our choice: see
#: LECTURE_ASSUMPTIONS).
LECTURE_INPUT = (3, 100, 100)
LECTURE_STACK = (
    Layer("conv", 5, 1, 0, 100),
    Layer("max pool", 2, 2),
    Layer("conv", 5, 1, 0, 100),
    Layer("max pool", 2, 2),
)
LAYER_KINDS = ("conv", "max pool", "mean pool")
#: What the slide does not say and this app assumes for the default stack.
LECTURE_ASSUMPTIONS = (
    "**Assumed by this app** (the slide only gives the input and the first layer's filters): the second "
    "convolution also has **100 filters of 5×5**, with **no padding** and stride 1, and both poolings are "
    "**2×2 max pooling with stride 2**. Change the stack below and every answer follows."
)
MAX_LAYERS = 12
#: Longest stack text accepted from a link (12 layers of the longest token, with separators).
MAX_STACK_TEXT = MAX_LAYERS * 16

# Numbers of at most 4 digits: the widest legal value is 1024 filters.
_TOKEN = re.compile(r"^(?P<kind>[cma])(?P<a>\d{1,4})(?:k(?P<k>\d{1,4}))?(?:s(?P<s>\d{1,4}))?(?:p(?P<p>\d{1,4}))?$")


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
    """Inverse of :func:`format_stack`; raises :class:`ArchitectureError` on anything else.

    The text may come from a link: its length is capped before any parsing and
    messages name the layer's position, never its text.
    """
    if len(text) > MAX_STACK_TEXT:
        raise ArchitectureError(f"a stack is at most {MAX_STACK_TEXT} characters ({MAX_LAYERS} layers).")
    layers = []
    tokens = [t for t in text.strip().lower().split("-") if t]
    if len(tokens) > MAX_LAYERS:
        raise ArchitectureError(f"At most {MAX_LAYERS} layers, please.")
    for n, token in enumerate(tokens, start=1):
        m = _TOKEN.match(token)
        if not m:
            raise ArchitectureError(
                f"layer {n} is not a layer (write c100k5s1p0 for a conv, m2s2 for a max pool, a2s2 for a mean pool)."
            )
        a = int(m["a"])
        if m["kind"] == "c":
            layer = Layer("conv", int(m["k"] or 3), int(m["s"] or 1), int(m["p"] or 0), a)
        else:
            layer = Layer("max pool" if m["kind"] == "m" else "mean pool", a, int(m["s"] or a))
        validate_layer(layer)
        layers.append(layer)
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


def build_sequential(
    in_channels: int, layers: tuple[Layer, ...] | list[Layer], device: str | torch.device = "cpu"
) -> nn.Sequential:
    """The stack as ``nn.Sequential`` of ``nn.Conv2d`` / ``nn.MaxPool2d`` / ``nn.AvgPool2d``.

    ``device="meta"`` builds it without allocating any weight (shapes only).
    """
    modules: list[nn.Module] = []
    C = in_channels
    for L in layers:
        if L.is_conv:
            modules.append(nn.Conv2d(C, L.filters, L.kernel, L.stride, L.padding, device=device))
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


#: Budget of the page's "Check with a real nn.Sequential" (a ~1 s run on a 2-core CPU); above it, the check
#: runs on PyTorch's "meta" device: real modules, real shapes and parameter counts, no arithmetic.
CHECK_MAX_MACS = 2_000_000_000
CHECK_MAX_BYTES = 256 * 2**20


@dataclass
class CheckCost:
    """What running the stack once on a float32 input would cost."""

    macs: int  # multiply-adds of the convolutions
    weight_bytes: int  # float32 parameters
    activation_bytes: int  # the largest input + output pair of one layer (inference keeps no more)

    @property
    def fits(self) -> bool:
        return self.macs <= CHECK_MAX_MACS and self.weight_bytes + self.activation_bytes <= CHECK_MAX_BYTES


def check_cost(analysis: Analysis) -> CheckCost:
    """Estimate, from the arithmetic alone, what a real forward pass of ``analysis``'s stack would cost."""
    blobs = [analysis.input_shape] + [r.out_shape for r in analysis.rows]
    sizes = [C * H * W * 4 for C, H, W in blobs]
    pairs = max((a + b for a, b in itertools.pairwise(sizes)), default=sizes[0])
    return CheckCost(analysis.total_macs, analysis.total_params * 4, pairs)


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Parameters of ``nn.Linear(in_features, out_features)``: one weight per (input, output) pair + biases."""
    return in_features * out_features + (out_features if bias else 0)


def conv2d_params(in_channels: int, out_channels: int, k: int, bias: bool = True) -> int:
    """Parameters of ``nn.Conv2d(in_channels, out_channels, k)``: C_out·(C_in·k² + 1)."""
    return out_channels * (in_channels * k * k + (1 if bias else 0))


@dataclass
class WeightSharing:
    """A conv layer vs a dense layer with the same input and output blob."""

    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int
    dense_params: int  # nn.Linear(C·H·W, C'·H'·W')
    conv_params: int  # nn.Conv2d(C, C', k)

    @property
    def ratio(self) -> float:
        return self.dense_params / self.conv_params

    def latex(self) -> str:
        """Both counts written out, for ``st.latex``."""
        (C, H, W), (C2, H2, W2), k = self.in_shape, self.out_shape, self.kernel
        n_in, n_out = C * H * W, C2 * H2 * W2
        mant, exp = f"{self.dense_params:.2e}".split("e")
        return (
            r"\begin{aligned}"
            rf"\text{{dense}}&: \underbrace{{{C}\cdot{H}\cdot{W}}}_{{{_tex_int(n_in)}}}"
            rf"\times\underbrace{{{C2}\cdot{H2}\cdot{W2}}}_{{{_tex_int(n_out)}}} + {_tex_int(n_out)}"
            rf" = {_tex_int(self.dense_params)} \approx {mant}\cdot 10^{{{int(exp)}}}\\"
            rf"\text{{conv}}&: {C2}\cdot({C}\cdot{k}^2 + 1) = {_tex_int(self.conv_params)}"
            rf"\qquad(\text{{about }}{_tex_int(round(self.ratio))}\times\text{{ fewer}})"
            r"\end{aligned}"
        )


def _tex_int(n: int) -> str:
    return f"{n:,}".replace(",", r"\,")


def _sci(n: int) -> str:
    """``27648921600`` → ``2.76·10¹⁰``."""
    mant, exp = f"{n:.2e}".split("e")
    return f"{mant}·10{str(int(exp)).translate(str.maketrans('-0123456789', '⁻⁰¹²³⁴⁵⁶⁷⁸⁹'))}"


def weight_sharing(row: LayerRow) -> WeightSharing:
    """Compare conv layer ``row`` with a dense layer mapping the same input blob to the same output blob."""
    (C, H, W), (C2, H2, W2) = row.in_shape, row.out_shape
    return WeightSharing(
        row.in_shape,
        row.out_shape,
        row.layer.kernel,
        linear_params(C * H * W, C2 * H2 * W2),
        conv2d_params(C, C2, row.layer.kernel),
    )


@dataclass
class QuizAnswer:
    question: str
    answer: str
    why: str
    latex: str = ""  # a formula shown with the answer (st.latex), if any


def quiz(analysis: Analysis) -> list[QuizAnswer]:
    """The lecture's four questions (and the weight-sharing count), answered from the calculator.

    An impossible stack (``analysis.problem``) gets no answers: the page says why instead.
    """
    if analysis.problem:
        return []
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
    if convs:
        ws = weight_sharing(convs[0])
        (C, H, W), (C2, H2, W2) = ws.in_shape, ws.out_shape
        answers.append(
            QuizAnswer(
                f"Weight sharing: how many parameters would a dense layer need to map {C}×{H}×{W} to "
                f"{C2}×{H2}×{W2}, like layer {convs[0].index}?",
                f"{ws.dense_params:,} (≈ {_sci(ws.dense_params)}) instead of the convolution's {ws.conv_params:,}",
                "A dense (nn.Linear) layer has one weight for every (input value, output value) pair plus a bias "
                "per output. The convolution shares one small filter per output channel across every position.",
                ws.latex(),
            )
        )
    return answers
