"""Inside one inception block: four branches, their channel ranges in the concat, and what 1×1 reductions save.

Split out of :mod:`lab.inception`, which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from lab.inception import (
    BRANCH_LABELS,
    BRANCHES,
    _chain,
    _geom,
    _last_conv,
    _module_macs,
    count_params,
    meta_googlenet,
    spatial_shapes,
)

# --- inside a block ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchInfo:
    """One branch of an inception block."""

    name: str  # "branch1" … "branch4"
    label: str  # "1×1", "1×1 → 3×3", …
    layers: str  # its layers with channel counts, e.g. "1×1 conv 192→96 → 3×3 conv 96→128"
    channels: int  # output channels
    channel_range: tuple[int, int]  # [start, stop) in the concatenated output
    params: int
    macs: int


@dataclass(frozen=True)
class BlockAnatomy:
    """An inception block at one input size: its branches and what the 1×1 reductions save."""

    name: str
    in_channels: int
    out_channels: int
    hw: tuple[int, int]  # spatial size of input and output (all branches keep it)
    branches: tuple[BranchInfo, ...]
    params: int  # the block's own parameter count (== sum over branches)
    macs: int
    naive: NaiveCost  # the paper's naive block (real 5×5): compare with paper_params / paper_macs
    naive_tv: NaiveCost  # the naive block with torchvision's 3×3 third branch: compare with params / macs
    paper_params: int  # this block as the paper builds it (reductions, a real 5×5), BN counted like torchvision
    paper_macs: int

    @property
    def saving_paper(self) -> tuple[float, float]:
        """(params, MACs) of the naive block ÷ the reduced block, both with a real 5×5 (the paper's comparison)."""
        return self.naive.params / self.paper_params, self.naive.macs / self.paper_macs

    @property
    def saving_tv(self) -> tuple[float, float]:
        """The same with torchvision's 3×3 third branch on both sides."""
        return self.naive_tv.params / self.params, self.naive_tv.macs / self.macs


@dataclass(frozen=True)
class NaiveCost:
    """The paper's "naive" inception block (Fig. 2a): 1×1, 3×3, 5×5 convs and a 3×3 max-pool, no reductions."""

    params: int  # conv weights + BN (2 per channel), like torchvision's BasicConv2d
    macs: int
    out_channels: int  # c1 + c3 + c5 + C_in: the unprojected pool branch passes every input channel on
    fifth_kernel: int  # kernel of the "5×5" branch assumed (5: paper; 3: torchvision)


def naive_block_cost(
    in_channels: int, c1: int, c3: int, c5: int, hw: tuple[int, int], fifth_kernel: int = 5
) -> NaiveCost:
    """Cost of an inception block with the same widths but no 1×1 reductions or pool projection.

    Every conv sees all ``in_channels``: params = C_in·(c1 + 9·c3 + k²·c5) + BN; MACs = H·W·C_in·(…).
    """
    k2 = fifth_kernel**2
    weights = in_channels * (c1 + 9 * c3 + k2 * c5)
    bn = 2 * (c1 + c3 + c5)
    return NaiveCost(weights + bn, hw[0] * hw[1] * weights, c1 + c3 + c5 + in_channels, fifth_kernel)


def _describe(branch: nn.Module) -> str:
    parts = []
    for m in _chain(branch):
        if isinstance(m, nn.MaxPool2d):
            k, s, _, _ = _geom(m)
            parts.append(f"{k}×{k} max-pool/{s}")
        else:
            c = m.conv
            parts.append(f"{c.kernel_size[0]}×{c.kernel_size[1]} conv {c.in_channels}→{c.out_channels}")
    return " → ".join(parts)


def block_anatomy(block: str, size: int | tuple[int, int] = 224, *, model: nn.Module | None = None) -> BlockAnatomy:
    """The four branches of ``block``: widths, concat channel ranges, params and MACs, and the naive cost."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    model = model if model is not None else meta_googlenet(aux_logits=False)
    shapes, problem = spatial_shapes(size, model)
    if block not in shapes:
        raise ValueError(problem or f"{block} is not reached")
    hw = shapes[block]
    module = getattr(model, block)
    infos, start = [], 0
    for b in BRANCHES:
        branch = getattr(module, b)
        c = _last_conv(branch).out_channels
        infos.append(
            BranchInfo(
                b,
                BRANCH_LABELS[b],
                _describe(branch),
                c,
                (start, start + c),
                count_params(branch),
                _module_macs(branch, hw),
            )
        )
        start += c
    in_ch = module.branch1.conv.in_channels
    widths = (in_ch, infos[0].channels, infos[1].channels, infos[2].channels, hw)
    naive, naive_tv = naive_block_cost(*widths, 5), naive_block_cost(*widths, 3)
    fifth = _last_conv(module.branch3)  # torchvision's 3×3; the paper's is 5×5: (25 − 9)·C_in·C_out more weights
    extra = (25 - 9) * fifth.in_channels * fifth.out_channels
    params, macs = count_params(module), _module_macs(module, hw)
    return BlockAnatomy(
        block,
        in_ch,
        start,
        hw,
        tuple(infos),
        params,
        macs,
        naive,
        naive_tv,
        params + extra,
        macs + extra * hw[0] * hw[1],
    )
