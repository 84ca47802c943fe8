"""GoogLeNet's paper (Szegedy et al. 2014, Table 1) beside torchvision's model: no golden standard.

- :data:`PAPER_CONFIG` / :data:`PAPER_PRINTED`: Table 1's widths and its printed costs;
- :func:`paper_vs_torchvision`: the nine blocks, computed from the paper's widths
  (with a real 5×5) and from torchvision's modules (3×3 "5×5", BatchNorm);
- :data:`DEVIATIONS`: every way torchvision's GoogLeNet differs from the paper,
  with what it changes.

Split out of :mod:`lab.inception`, which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lab.inception import BLOCKS, _module_macs, count_params, meta_googlenet, spatial_shapes

# --- Table 1 ----------------------------------------------------------------------------------

#: Szegedy et al. 2014, Table 1: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj) per block.
PAPER_CONFIG: dict[str, tuple[int, int, int, int, int, int]] = {
    "inception3a": (64, 96, 128, 16, 32, 32),
    "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64),
    "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64),
    "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128),
    "inception5a": (256, 160, 320, 32, 128, 128),
    "inception5b": (384, 192, 384, 48, 128, 128),
}
#: Table 1's printed "params" (in "K") and "ops" (M multiply-adds) per row, as printed.
#: The paper does not say what its K is; reading it as 1024 is *our inference*, because the
#: weights computed from the widths fit 1024 better than 1000 (:func:`k_fit`). The printed
#: numbers are not all consistent with the configs (e.g. conv1, 4c, 5a): we show both.
PAPER_PRINTED: dict[str, tuple[float, float]] = {
    "conv1": (2.7, 34),
    "conv2+conv3": (112, 360),
    "inception3a": (159, 128),
    "inception3b": (380, 304),
    "inception4a": (364, 73),
    "inception4b": (437, 88),
    "inception4c": (463, 100),
    "inception4d": (580, 119),
    "inception4e": (840, 170),
    "inception5a": (1072, 54),
    "inception5b": (1388, 71),
    "fc": (1000, 1),
}


@dataclass(frozen=True)
class Deviation:
    """One way torchvision's GoogLeNet differs from the 2014 paper."""

    what: str  # short name
    paper: str  # what the paper does
    torchvision: str  # what torchvision does
    consequence: str  # what it changes, in numbers where we have them
    reference: str = ""  # where this is discussed


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        '"5×5" branch is 3×3',
        "1×1 reduce → 5×5 convolution",
        "1×1 reduce → 3×3 convolution (a bug kept for weight compatibility)",
        "fewer parameters and multiply-adds in branch3 of every block; receptive field grows by 2 (not 4) steps per block",
        "pytorch/vision#906",
    ),
    Deviation(
        "BatchNorm instead of LRN",
        "local response normalisation after the stem convolutions; no BN (BN came in 2015)",
        "every convolution is conv (no bias) → BatchNorm → ReLU",
        "conv biases are dropped, each BN adds 2 parameters per channel; no LRN layers",
    ),
    Deviation(
        "maxpool4 is 2×2",
        "3×3 max pool, stride 2, before inception 5a",
        "2×2 max pool, stride 2 (ceil mode)",
        "same 7×7 output at 224², smaller receptive-field growth",
    ),
    Deviation(
        "dropout 0.2",
        "dropout 40% before the classifier",
        "dropout p = 0.2",
        "only matters in training; inference ignores dropout",
    ),
    Deviation(
        "adaptive average pool",
        "a fixed 7×7 average pool (stride 1) on inception5b's 7×7 map, defined for 224×224 inputs",
        "AdaptiveAvgPool2d((1, 1)): averages whatever size inception5b has",
        "identical at 224²; with torchvision's geometry inception5b is 7×7 only for inputs of "
        "{fixed_lo}–{fixed_hi} px, so at other sizes the paper's pool would not give the classifier its 1×1×1024. "
        "The minimum input of 15×15 is torchvision's property (adaptive pools, ceil-mode max pools), not the paper's",
    ),
    Deviation(
        "aux heads' pool is adaptive",
        "5×5 average pool, stride 3: 4a's 14×14 map → 4×4 (windows start at 0, 3, 6, 9, each 5 wide)",
        "adaptive_avg_pool2d(…, (4, 4)): 4×4 at any input size",
        "at 224² the adaptive windows start at {aux_starts} and are {aux_widths} wide, not 5: the same 4×4 shape "
        "but different averages (training only; the aux heads never run at inference)",
    ),
    Deviation(
        "aux heads not pretrained",
        "two auxiliary classifiers (after 4a and 4d) trained with weight 0.3",
        "aux heads exist only with aux_logits=True and their ImageNet weights are not trained",
        "torchvision drops them when loading weights; they never run in eval mode and are not in the 6.6M total",
    ),
)


def adaptive_windows(n: int, out: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each window of PyTorch's adaptive pooling from ``n`` to ``out`` cells (one axis)."""
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


def fixed_pool_sizes(side: int = 7, lo: int = 15, hi: int = 512) -> tuple[int, int]:
    """The square input sizes at which inception5b is ``side``×``side`` (what a fixed 7×7 pool needs)."""
    from lab.inception import spatial_shapes

    ok = [s for s in range(lo, hi + 1) if spatial_shapes((s, s))[0].get("inception5b") == (side, side)]
    return min(ok), max(ok)


def deviations() -> tuple[Deviation, ...]:
    """:data:`DEVIATIONS` with the numbers filled in (computed, not typed)."""
    lo, hi = fixed_pool_sizes()
    win = adaptive_windows(14, 4)
    fill = {
        "fixed_lo": lo,
        "fixed_hi": hi,
        "aux_starts": ", ".join(str(a) for a, _ in win),
        "aux_widths": "/".join(sorted({str(b - a) for a, b in win})),
    }
    return tuple(
        Deviation(d.what, d.paper.format(**fill), d.torchvision, d.consequence.format(**fill), d.reference)
        for d in DEVIATIONS
    )


def k_fit() -> dict[int, float]:
    """Median relative gap between Table 1's printed params and the computed weights, reading K as 1000 or 1024."""
    import statistics

    rows = paper_vs_torchvision()
    return {
        k: statistics.median(abs(r.paper_params / k - r.printed_params_k) / r.printed_params_k for r in rows)
        for k in (1000, 1024)
    }


def paper_branch_channels(block: str) -> dict[str, int]:
    """Output channels of each branch in the paper's Table 1 (== torchvision's widths)."""
    c1, _r3, c3, _r5, c5, pp = PAPER_CONFIG[block]
    return {"branch1": c1, "branch2": c3, "branch3": c5, "branch4": pp}


# --- paper vs torchvision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperRow:
    """One inception block: Table 1's configuration and costs beside torchvision's."""

    block: str
    config: tuple[int, ...]  # (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj)
    torchvision_config: tuple[int, ...]  # the same six numbers read from the torchvision modules
    out_channels: int
    paper_params: int  # computed from the config with a 5×5 kernel, conv weights only (no bias, no BN)
    paper_macs: int  # at 224×224
    printed_params_k: float  # as printed in Table 1 (its "K"; 1024 is our reading, see k_fit)
    printed_ops_m: float  # as printed (M multiply-adds)
    tv_params: int  # torchvision's module (3×3 "5×5", BN)
    tv_macs: int

    @property
    def param_diff(self) -> int:
        return self.tv_params - self.paper_params

    @property
    def macs_diff(self) -> int:
        return self.tv_macs - self.paper_macs


def paper_block_params(in_channels: int, config: tuple[int, ...], fifth_kernel: int = 5) -> int:
    """Conv weights of one block from Table 1's six numbers (the paper's convs have biases; Table 1 ignores them)."""
    c1, r3, c3, r5, c5, pp = config
    return in_channels * (c1 + r3 + r5 + pp) + 9 * r3 * c3 + fifth_kernel**2 * r5 * c5


def torchvision_config(block: nn.Module) -> tuple[int, ...]:
    """Read (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj) from a torchvision Inception module."""
    return (
        block.branch1.conv.out_channels,
        block.branch2[0].conv.out_channels,
        block.branch2[1].conv.out_channels,
        block.branch3[0].conv.out_channels,
        block.branch3[1].conv.out_channels,
        block.branch4[1].conv.out_channels,
    )


def paper_vs_torchvision(*, model: nn.Module | None = None) -> list[PaperRow]:
    """Table 1 beside torchvision for the nine blocks, at 224×224."""
    model = model if model is not None else meta_googlenet(aux_logits=False)
    shapes, _ = spatial_shapes((224, 224), model)
    rows = []
    for name in BLOCKS:
        module = getattr(model, name)
        cfg = PAPER_CONFIG[name]
        in_ch = module.branch1.conv.in_channels
        hw = shapes[name]
        p = paper_block_params(in_ch, cfg)
        printed = PAPER_PRINTED[name]
        rows.append(
            PaperRow(
                name,
                cfg,
                torchvision_config(module),
                sum(paper_branch_channels(name).values()),
                p,
                p * hw[0] * hw[1],
                printed[0],
                printed[1],
                count_params(module),
                _module_macs(module, hw),
            )
        )
    return rows


def paper_records(rows: list[PaperRow]) -> tuple[list[dict], list[dict], list[dict]]:
    """Three narrow tables for the page — widths, parameters, multiply-adds — numbers formatted with separators.

    Narrow on purpose: each fits a 1000-px-wide window with the sidebar open, without sideways scrolling.
    """
    widths, params, macs = [], [], []
    for r in rows:
        block = r.block.removeprefix("inception")
        widths.append(
            {
                "block": block,
                "Table 1 widths": "·".join(str(c) for c in r.config),
                "torchvision": "same" if r.config == r.torchvision_config else "·".join(map(str, r.torchvision_config)),
                "out": r.out_channels,
            }
        )
        params.append(
            {
                "block": block,
                "paper, 5×5 (computed)": f"{r.paper_params:,}",
                "printed": f"{r.printed_params_k:g}K",
                "torchvision": f"{r.tv_params:,}",
                "Δ": f"{r.param_diff:+,}",
            }
        )
        macs.append(
            {
                "block": block,
                "paper, 5×5 (computed)": f"{r.paper_macs / 1e6:,.1f} M",
                "printed": f"{r.printed_ops_m:g} M",
                "torchvision": f"{r.tv_macs / 1e6:,.1f} M",
                "Δ": f"{r.macs_diff / 1e6:+,.1f} M",
            }
        )
    return widths, params, macs
