"""GoogLeNet (Inception v1) as torchvision builds it: the block, the whole network, its costs.

What this module teaches, in the order of the lecture's slides:

- **the inception block**: four parallel branches (1×1; 1×1→3×3; 1×1→"5×5";
  3×3 max-pool→1×1 projection) concatenated along channels
  (:func:`block_anatomy`, with the channel range each branch fills);
- **1×1 reductions make it affordable**: the same block without them (the
  paper's "naive" version) costs several times more (:func:`naive_block_cost`);
- **going deeper / computationally heavy**: every layer's output shape,
  parameters, multiply-adds and receptive field (:func:`layer_table`), for any
  input size, with the reason the network needs at least 15×15 pixels;
- **no golden standard**: the paper's Table 1 next to torchvision's model,
  with every deviation named (:data:`DEVIATIONS`, :func:`paper_vs_torchvision`).

The network is run by :func:`run_network`, a by-hand copy of
``torchvision.models.GoogLeNet.forward`` that can keep intermediate tensors,
knock a branch out and stop early. It registers **no hooks** and never changes
the model, so one cached model can serve every session at once (tests check
that its logits are bit-identical to ``model(x)``).

Deviation to remember everywhere: torchvision's third branch — the "5×5" of the
paper — is a **3×3** convolution (pytorch/vision#906); we keep its name
``branch3`` and say "5×5" in quotes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lab.params import Param

#: The nine inception blocks, in forward order.
BLOCKS: tuple[str, ...] = (
    "inception3a",
    "inception3b",
    "inception4a",
    "inception4b",
    "inception4c",
    "inception4d",
    "inception4e",
    "inception5a",
    "inception5b",
)
#: The four branches of a block, as torchvision names them, and what they are.
BRANCHES: tuple[str, ...] = ("branch1", "branch2", "branch3", "branch4")
BRANCH_LABELS: dict[str, str] = {
    "branch1": "1×1",
    "branch2": "1×1 → 3×3",
    "branch3": '1×1 → "5×5" (really 3×3)',
    "branch4": "3×3 max-pool → 1×1 proj",
}
#: Every top-level layer in the order ``GoogLeNet._forward`` runs it (aux heads sit beside 4a / 4d).
SEQUENCE: tuple[str, ...] = (
    "conv1",
    "maxpool1",
    "conv2",
    "conv3",
    "maxpool2",
    "inception3a",
    "inception3b",
    "maxpool3",
    "inception4a",
    "inception4b",
    "inception4c",
    "inception4d",
    "inception4e",
    "maxpool4",
    "inception5a",
    "inception5b",
    "avgpool",
    "dropout",
    "fc",
)
#: Where the auxiliary classifiers branch off (training only).
AUX_AFTER: dict[str, str] = {"aux1": "inception4a", "aux2": "inception4d"}
#: Layers whose activations can be inspected / targeted (conv stem + blocks).
FEATURE_LAYERS: tuple[str, ...] = ("conv1", "conv2", "conv3", *BLOCKS)
#: ImageNet normalisation used by torchvision's weights (the model's *input* convention).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The smallest square input GoogLeNet accepts (torchvision's ``meta["min_size"]``; checked in tests).
MIN_SIZE = 15

# --- the paper ------------------------------------------------------------------------------

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
#: Table 1's printed "params" (K, where K = 1024) and "ops" (M multiply-adds) per row, as printed.
#: The printed numbers are not all consistent with the configs (e.g. conv1, 4c, 5a): we show both.
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
        "aux heads not pretrained",
        "two auxiliary classifiers (after 4a and 4d) trained with weight 0.3",
        "aux heads exist only with aux_logits=True and their ImageNet weights are not trained",
        "torchvision drops them when loading weights; they never run in eval mode and are not in the 6.6M total",
    ),
)


def paper_branch_channels(block: str) -> dict[str, int]:
    """Output channels of each branch in the paper's Table 1 (== torchvision's widths)."""
    c1, _r3, c3, _r5, c5, pp = PAPER_CONFIG[block]
    return {"branch1": c1, "branch2": c3, "branch3": c5, "branch4": pp}


# --- building the model ------------------------------------------------------------------------


def build_googlenet(*, seed: int = 0, aux_logits: bool = False, device: str = "cpu") -> nn.Module:
    """torchvision's GoogLeNet with random ("untrained") weights, in eval mode.

    ``transform_input=True`` keeps the input convention of the ImageNet weights:
    the model takes ImageNet-normalised pixels and re-normalises them internally
    to the ``(x - 0.5) / 0.5`` range of the original Google weights.

    Convolutions get He (Kaiming-normal) initialisation. torchvision's own
    ``init_weights=True`` (truncated normal, std 0.01) with eval-mode BatchNorm
    (running mean 0, variance 1) shrinks the signal ~2× per layer, so by
    inception4c every activation is ~1e-7 and every photo gets the same
    prediction; He init keeps activations O(1) through all 22 layers, so the
    random filters still respond differently to different photos. The global
    RNG is left untouched (private fork).
    """
    from torchvision.models import googlenet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = googlenet(weights=None, aux_logits=aux_logits, init_weights=False, transform_input=True)
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return model.eval().to(device)


@lru_cache(maxsize=2)
def meta_googlenet(*, aux_logits: bool = True) -> nn.Module:
    """The architecture only (meta tensors: shapes without memory or compute), in eval mode.

    Cached and shared: callers only read its modules and run shape-only forwards.
    """
    from torchvision.models import googlenet

    with torch.device("meta"):
        return googlenet(weights=None, aux_logits=aux_logits, init_weights=False, transform_input=True).eval()


def count_params(module: nn.Module) -> int:
    """Number of learnable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters())


def main_params(model: nn.Module) -> int:
    """Parameters used at inference (aux heads excluded): 6,624,904 for torchvision's GoogLeNet."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(("aux1.", "aux2.")))


# --- running it (by hand, no hooks) -----------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """What :func:`run_network` should keep besides the logits."""

    layers: tuple[str, ...] = ()  # top-level outputs to keep, e.g. "conv1", "inception4c"
    branches: tuple[str, ...] = ()  # blocks whose four branch outputs (post-ReLU) to keep
    pre_relu: tuple[str, ...] = ()  # "inception4c.branch2" (or a block / "conv2") → keep the BN output, cloned
    knockout: tuple[str, ...] = ()  # "inception4c.branch3": replace that branch's output by zeros
    stop_at: str | None = None  # return right after this top-level layer (no logits)


def _basic_conv(module: nn.Module, x: torch.Tensor, key: str | None, acts: dict[str, torch.Tensor]) -> torch.Tensor:
    """torchvision's BasicConv2d (conv → BN → in-place ReLU), optionally keeping the pre-ReLU map.

    The ReLU is **in-place**: a reference to the BN output taken before it would
    be overwritten, so the pre-ReLU map is cloned.
    """
    if key is None:
        return module(x)
    z = module.bn(module.conv(x))
    acts[key] = z.clone()
    return F.relu(z, inplace=True)


def _branch(branch: nn.Module, x: torch.Tensor, key: str | None, acts: dict[str, torch.Tensor]) -> torch.Tensor:
    """Run one branch; ``key`` set → keep the pre-ReLU output of its last BasicConv2d."""
    if key is None:
        return branch(x)
    parts = list(branch) if isinstance(branch, nn.Sequential) else [branch]
    for part in parts[:-1]:
        x = part(x)
    return _basic_conv(parts[-1], x, key, acts)


def _inception(block: nn.Module, name: str, x: torch.Tensor, cap: Capture, acts: dict) -> torch.Tensor:
    """``Inception.forward`` by hand: four branches on the same input, concatenated along channels."""
    outs = []
    whole_pre = name in cap.pre_relu
    for b in BRANCHES:
        key = f"{name}.{b}"
        pre_key = f"{key}.pre" if (whole_pre or key in cap.pre_relu) else None
        y = _branch(getattr(block, b), x, pre_key, acts)  # (N, C_b, H, W)
        if key in cap.knockout:
            y = torch.zeros_like(y)
        if name in cap.branches:
            acts[key] = y  # not cloned: nothing writes into a branch output after this point
        outs.append(y)
    if whole_pre:
        acts[f"{name}.pre"] = torch.cat([acts.pop(f"{name}.{b}.pre") for b in BRANCHES], 1)
    return torch.cat(outs, 1)  # (N, ΣC_b, H, W)


def transform_input(x: torch.Tensor) -> torch.Tensor:
    """``GoogLeNet._transform_input`` written out: ImageNet-normalised → ``(pixel - 0.5) / 0.5``.

    ``x`` (N, 3, H, W) normalised with :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD`;
    un-normalise (``x·std + mean``) and re-normalise to [-1, 1], per channel.
    """
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * std + mean - 0.5) / 0.5


def run_network(
    model: nn.Module, X: torch.Tensor, capture: Capture = Capture(), *, start_after: str | None = None
) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
    """``GoogLeNet.forward`` in eval mode, by hand: ``(logits (N, 1000), kept tensors)``.

    Same modules, same order, same ops as torchvision (logits are bit-identical),
    but without hooks and without touching ``model`` — so it is safe on a model
    shared by many sessions and threads. Kept tensors are named like the
    modules (``"inception4c"``, ``"inception4c.branch2"``, ``".pre"`` for pre-ReLU).
    With ``capture.stop_at`` the run ends after that layer and logits are None;
    with ``start_after`` the run resumes from that layer's output ``X``.
    """
    acts: dict[str, torch.Tensor] = {}
    sequence = SEQUENCE if start_after is None else SEQUENCE[SEQUENCE.index(start_after) + 1 :]
    x = X if start_after is not None else (model._transform_input(X) if model.transform_input else X)
    for name in sequence:
        module = getattr(model, name)
        if name in BLOCKS:
            x = _inception(module, name, x, capture, acts)
        elif name.startswith("conv"):
            x = _basic_conv(module, x, f"{name}.pre" if name in capture.pre_relu else None, acts)
        elif name == "dropout":
            x = module(torch.flatten(x, 1))  # (N, 1024); identity in eval mode
        else:
            x = module(x)
        if name in capture.layers:
            acts[name] = x
        if name == capture.stop_at:
            return None, acts
    return x, acts


# --- shapes by hand ---------------------------------------------------------------------------------


def conv_out(n: int, k: int, s: int = 1, p: int = 0, ceil_mode: bool = False) -> int:
    """Output length of a conv / pool along one axis: ⌊(n + 2p − k) / s⌋ + 1 (⌈⌉ in ceil mode).

    PyTorch's ceil-mode rule: the last window must start inside the input or
    its left padding, otherwise it is dropped.
    """
    span = n + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1  # ceil mode may hang a window over the edge
    if ceil_mode and out > 0 and (out - 1) * s >= n + p:
        out -= 1
    return max(out, 0)


def _geom(module: nn.Module) -> tuple[int, int, int, bool]:
    """(kernel, stride, padding, ceil_mode) of a conv / pool module (square)."""

    def first(v):
        return v[0] if isinstance(v, tuple | list) else v

    if hasattr(module, "conv"):
        module = module.conv
    return (
        int(first(module.kernel_size)),
        int(first(module.stride)),
        int(first(module.padding)),
        bool(getattr(module, "ceil_mode", False)),
    )


def _chain(module: nn.Module) -> list[nn.Module]:
    """The spatial layers of a BasicConv2d / Sequential / pool, in order."""
    if isinstance(module, nn.Sequential):
        return [m for part in module for m in _chain(part)]
    return [module]


# --- receptive fields by hand --------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """Receptive field of one output cell, in input pixels.

    Cell ``(i, j)`` sees the input square centred at ``(start + i·jump, start + j·jump)``
    with side ``size`` (clipped at the image border).
    """

    size: int  # side of the square of input pixels that can affect one cell
    jump: int  # input pixels between neighbouring cells (product of strides)
    start: float  # centre of cell 0 in input pixel coordinates

    def then(self, k: int, s: int, p: int) -> Field:
        """The field after one more conv/pool layer with kernel k, stride s, padding p."""
        return Field(self.size + (k - 1) * self.jump, self.jump * s, self.start + ((k - 1) / 2 - p) * self.jump)

    def box(self, i: int, j: int, height: int, width: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` pixel box (inclusive) of cell (row i, col j), clipped."""
        half = (self.size - 1) / 2
        cy, cx = self.start + i * self.jump, self.start + j * self.jump
        top, left = max(0, math.floor(cy - half)), max(0, math.floor(cx - half))
        bottom, right = min(height - 1, math.ceil(cy + half)), min(width - 1, math.ceil(cx + half))
        return top, left, bottom, right


def _through(field_in: Field, module: nn.Module) -> Field:
    out = field_in
    for m in _chain(module):
        if isinstance(m, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d) or hasattr(m, "conv"):
            out = out.then(*_geom(m)[:3])
    return out


def receptive_fields(model: nn.Module) -> dict[str, Field]:
    """Receptive field after every top-level layer (and every branch), from the modules' own geometry.

    An inception block's field is the widest of its branches' fields (its
    concatenated output mixes all four). The global average pool sees everything.
    """
    fields: dict[str, Field] = {}
    f = Field(1, 1, 0.0)
    for name in SEQUENCE:
        module = getattr(model, name)
        if name in BLOCKS:
            per_branch = {b: _through(f, getattr(module, b)) for b in BRANCHES}
            for b, fb in per_branch.items():
                fields[f"{name}.{b}"] = fb
            f = max(per_branch.values(), key=lambda v: v.size)
        elif name in ("avgpool", "dropout", "fc"):
            f = Field(10**9, f.jump, f.start)  # global: the whole image
        else:
            f = _through(f, module)
        fields[name] = f
    return fields


# --- the per-layer table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRow:
    """One row of the architecture table."""

    name: str  # module name, e.g. "inception4a" or "aux1"
    kind: str  # "conv 7×7/2", "max-pool 3×3/2", "inception", "aux classifier", …
    shape: tuple[int, ...]  # output shape without the batch dim, (C, H, W) or (features,)
    params: int  # learnable parameters of this layer
    macs: int  # multiply-accumulates for one image (conv and linear; BN/ReLU/pool not counted)
    rf: int | None  # receptive-field side in input pixels (None: global / not spatial)
    jump: int | None  # input pixels between neighbouring output cells
    aux: bool = False  # auxiliary classifier: training only, not in totals
    note: str = ""  # deviations / remarks


@dataclass
class ArchTable:
    """The whole network at one input size."""

    input_size: tuple[int, int]  # (H, W)
    rows: list[LayerRow] = field(default_factory=list)
    ok: bool = True  # False when the input is too small to get through
    problem: str = ""  # why not, in words

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows if not r.aux)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows if not r.aux)

    def row(self, name: str) -> LayerRow:
        return next(r for r in self.rows if r.name == name)


def conv_macs(conv: nn.Conv2d, out_hw: tuple[int, int]) -> int:
    """Multiply-adds of one convolution: H_out·W_out·C_out·(C_in/groups)·k_h·k_w."""
    kh, kw = conv.kernel_size
    return out_hw[0] * out_hw[1] * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw


def _module_macs(module: nn.Module, out_hw: tuple[int, int]) -> int:
    """MACs of every conv inside a stride-1 module (a block / branch) whose convs all output ``out_hw``."""
    return sum(conv_macs(m, out_hw) for m in module.modules() if isinstance(m, nn.Conv2d))


def _kind(name: str, module: nn.Module) -> str:
    if name in BLOCKS:
        return "inception"
    if isinstance(module, nn.MaxPool2d):
        k, s, _, _ = _geom(module)
        return f"max-pool {k}×{k}/{s}"
    if name.startswith("conv"):
        k, s, _, _ = _geom(module)
        return f"conv {k}×{k}/{s} + BN + ReLU"
    return {"avgpool": "global avg-pool", "dropout": "flatten + dropout", "fc": "linear"}.get(name, name)


def spatial_shapes(size: tuple[int, int], model: nn.Module | None = None) -> tuple[dict[str, tuple[int, int]], str]:
    """Spatial ``(H, W)`` after every top-level layer, by the formula alone; and the first problem.

    Returns ``(shapes, problem)``; ``problem`` names the layer whose output would
    be empty (and why) or is "" when the input gets through.
    """
    model = model if model is not None else meta_googlenet(aux_logits=False)
    h, w = size
    shapes: dict[str, tuple[int, int]] = {}
    for name in SEQUENCE:
        module = getattr(model, name)
        if name in ("avgpool", "dropout", "fc"):
            h, w = 1, 1
        else:
            for m in _chain(module if name not in BLOCKS else module.branch1):
                if isinstance(m, nn.MaxPool2d) or hasattr(m, "conv"):
                    k, s, p, ceil = _geom(m)
                    before = (h, w)
                    h, w = conv_out(h, k, s, p, ceil), conv_out(w, k, s, p, ceil)
                    if h < 1 or w < 1:
                        return shapes, (
                            f"{name} ({_kind(name, module)}) gets a {before[0]}×{before[1]} input, smaller than its "
                            f"{k}×{k} window even with padding {p}, so its output would be empty. Every stride-2 "
                            f"stage halves the map (224 → 112 → 56 → 28 → 14 → 7); {size[0]}×{size[1]} runs out "
                            f"of pixels. The smallest input that gets through is {MIN_SIZE}×{MIN_SIZE}."
                        )
        shapes[name] = (h, w)
    return shapes, ""


def layer_table(size: int | tuple[int, int] = 224, *, model: nn.Module | None = None) -> ArchTable:
    """Every layer's output shape, parameters, multiply-adds and receptive field at ``size``.

    Shapes come from the layer formula (:func:`conv_out`) and are checked against
    a shape-only forward on meta tensors (no memory, no compute). The aux
    classifiers appear after 4a / 4d, marked: they run in training only and
    are not counted in the totals.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    model = model if model is not None else meta_googlenet(aux_logits=True)
    table = ArchTable(size)
    shapes, problem = spatial_shapes(size, model)
    if problem:
        table.ok, table.problem = False, problem
    fields = receptive_fields(model)
    channels = 3
    for name in SEQUENCE:
        if name not in shapes:
            break
        module = getattr(model, name)
        hw = shapes[name]
        params, macs, note = count_params(module), 0, ""
        if name.startswith("conv") or name in BLOCKS:
            macs = _module_macs(module, hw)
            channels = (
                module.conv.out_channels
                if name.startswith("conv")
                else sum(_last_conv(getattr(module, b)).out_channels for b in BRANCHES)
            )
            if name in BLOCKS:
                note = "branch3 is 3×3, not the paper's 5×5"
        elif name == "fc":
            channels, macs = module.out_features, module.in_features * module.out_features
        elif name == "maxpool4":
            note = "2×2 here, 3×3 in the paper"
        elif name == "dropout":
            note = f"p = {module.p} (paper: 0.4)"
        shape = (channels,) if name in ("dropout", "fc") else (channels, *hw)
        f = fields[name]
        spatial = name not in ("avgpool", "dropout", "fc")
        table.rows.append(
            LayerRow(
                name,
                _kind(name, module),
                shape,
                params,
                macs,
                f.size if spatial else None,
                f.jump if spatial else None,
                note=note,
            )
        )
        aux = next((a for a, after in AUX_AFTER.items() if after == name), None)
        if aux is not None and getattr(model, aux, None) is not None:
            head = getattr(model, aux)
            aux_macs = conv_macs(head.conv.conv, (4, 4)) + sum(
                m.in_features * m.out_features for m in (head.fc1, head.fc2)
            )
            table.rows.append(
                LayerRow(
                    aux,
                    "aux classifier",
                    (head.fc2.out_features,),
                    count_params(head),
                    aux_macs,
                    None,
                    None,
                    aux=True,
                    note="training only · not pretrained · not in totals",
                )
            )
    return table


def _last_conv(branch: nn.Module) -> nn.Conv2d:
    return [m for m in branch.modules() if isinstance(m, nn.Conv2d)][-1]


def meta_shapes(size: tuple[int, int]) -> dict[str, tuple[int, ...]]:
    """Output shape of every top-level layer from a real (meta-tensor) forward — the torch check."""
    model = meta_googlenet(aux_logits=False)
    X = torch.empty(1, 3, *size, device="meta")
    _, acts = run_network(model, X, Capture(layers=SEQUENCE))
    return {k: tuple(v.shape[1:]) for k, v in acts.items()}


def flop_counter_macs(size: int = 224) -> int:
    """Multiply-adds counted by ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2) on meta tensors."""
    from torch.utils.flop_counter import FlopCounterMode

    model = meta_googlenet(aux_logits=False)
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.empty(1, 3, size, size, device="meta"))
    return counter.get_total_flops() // 2


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
    naive: NaiveCost  # the same widths without 1×1 reductions


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
    naive = naive_block_cost(in_ch, infos[0].channels, infos[1].channels, infos[2].channels, hw, 5)
    return BlockAnatomy(block, in_ch, start, hw, tuple(infos), count_params(module), _module_macs(module, hw), naive)


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
    printed_params_k: float  # as printed in Table 1 (K = 1024)
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


# --- widgets -----------------------------------------------------------------------------------------

SPECS: tuple[Param, ...] = (
    Param(
        "input_size",
        "Input size (pixels, square)",
        224,
        kind="int",
        lo=8,
        hi=512,
        step=1,
        help="Shapes, multiply-adds and receptive fields are recomputed. Below 15×15 the network cannot run.",
    ),
    Param(
        "block",
        "Inception block",
        "inception4c",
        kind="choice",
        options=BLOCKS,
        labels={b: b.removeprefix("inception") for b in BLOCKS},
    ),
)


def format_count(n: float) -> str:
    """6624904 → '6.62 M'; 1498376192 → '1.50 G'."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g} {unit}"
    return f"{n:.0f}"


def table_records(table: ArchTable) -> list[dict]:
    """The table as records for ``st.dataframe`` (no maths in pages)."""
    return [
        {
            "layer": r.name,
            "type": r.kind,
            "output shape": "×".join(str(s) for s in r.shape),
            "params": r.params,
            "MACs": r.macs,
            "receptive field": "whole image"
            if r.rf is None and not r.aux
            else ("—" if r.rf is None else f"{r.rf}×{r.rf}"),
            "stride (jump)": str(r.jump) if r.jump is not None else "—",
            "aux": "AUX" if r.aux else "",
            "note": r.note,
        }
        for r in table.rows
    ]


def share_of(values: Mapping[str, float] | Iterable[float]) -> np.ndarray:
    """Normalise non-negative values to fractions that sum to 1 (all zero → zeros)."""
    v = np.asarray(list(values.values()) if isinstance(values, Mapping) else list(values), dtype=np.float64)
    total = v.sum()
    return v / total if total > 0 else np.zeros_like(v)


# --- figures -------------------------------------------------------------------------------------------

BRANCH_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")


def cost_chart(table: ArchTable):
    """Parameters and multiply-adds per layer (two bar rows; aux heads in grey and excluded from totals)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lab.figures import layout

    rows = [r for r in table.rows if r.params or r.macs]
    names = [r.name.removeprefix("inception") if r.name in BLOCKS else r.name for r in rows]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=("multiply-adds per image", "parameters"),
    )
    colors = ["#bbbbbb" if r.aux else ("#d62728" if r.name in BLOCKS else "#1f77b4") for r in rows]
    fig.add_trace(
        go.Bar(
            x=names,
            y=[r.macs for r in rows],
            marker_color=colors,
            name="MACs",
            hovertemplate="%{x}: %{y:,} MACs<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[r.params for r in rows],
            marker_color=colors,
            name="params",
            hovertemplate="%{x}: %{y:,} params<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="MACs", row=1, col=1)
    fig.update_yaxes(title_text="parameters", row=2, col=1)
    fig.update_layout(showlegend=False)
    h, w = table.input_size
    fig = layout(
        fig,
        f"Where the cost is at {h}×{w}",
        x_title="layer",
        height=540,
    )
    fig.update_layout(
        title_subtitle_text="red: inception blocks · blue: stem and classifier · grey: aux heads (not in the totals)",
        margin_t=80,
    )
    fig.update_xaxes(title_text=None, row=1, col=1)  # shared x: one axis title, under the bottom row
    return fig


def block_figure(anatomy: BlockAnatomy):
    """The concatenated output as a bar split into the four branches' channel ranges, plus costs per branch."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lab.figures import layout

    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.4, 0.3, 0.3],
        horizontal_spacing=0.08,
        subplot_titles=("channels in the concatenated output", "parameters", "multiply-adds"),
    )
    for b, color in zip(anatomy.branches, BRANCH_COLORS, strict=True):
        lo, hi = b.channel_range
        fig.add_trace(
            go.Bar(
                y=["output"],
                x=[b.channels],
                base=[lo],
                orientation="h",
                marker_color=color,
                name=f"{b.name}: {b.label}",
                legendgroup=b.name,
                text=[f"{lo}–{hi - 1}"],
                textposition="inside",
                hovertemplate=f"{b.name} ({b.label})<br>channels {lo}…{hi - 1} ({b.channels})<extra></extra>",
            ),
            row=1,
            col=1,
        )
        for col, value, unit in ((2, b.params, "params"), (3, b.macs, "MACs")):
            fig.add_trace(
                go.Bar(
                    x=[b.name],
                    y=[value],
                    marker_color=color,
                    legendgroup=b.name,
                    showlegend=False,
                    hovertemplate=f"%{{x}}: %{{y:,}} {unit}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="channel index", row=1, col=1)
    fig.update_yaxes(title_text="parameters", row=1, col=2)
    fig.update_yaxes(title_text="MACs", row=1, col=3)
    fig.update_layout(barmode="overlay")
    return layout(
        fig,
        f"{anatomy.name}: {anatomy.in_channels} → {anatomy.out_channels} channels at {anatomy.hw[0]}×{anatomy.hw[1]}",
        height=360,
    )


def energy_chart(energy: Mapping[str, np.ndarray], widths: Mapping[str, np.ndarray]):
    """Each branch's share of its block's activation energy (bars) vs its share of the channels (markers)."""
    import plotly.graph_objects as go

    from lab.figures import layout

    names = [b.removeprefix("inception") for b in energy]
    fig = go.Figure()
    for k, (b, color) in enumerate(zip(BRANCHES, BRANCH_COLORS, strict=True)):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[float(e[k]) for e in energy.values()],
                name=f"{b} ({BRANCH_LABELS[b]})",
                marker_color=color,
                hovertemplate=f"{b}: %{{y:.1%}} of the energy<extra></extra>",
            )
        )
    base = np.cumsum([[0.0, *list(w[:-1])] for w in widths.values()], axis=1)
    for k, b in enumerate(BRANCHES):
        fig.add_trace(
            go.Scatter(
                x=names,
                y=[float(base[i, k] + w[k]) for i, w in enumerate(widths.values())],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 18, "color": "black"},
                name="channel share (cumulative)" if k == 0 else None,
                showlegend=k == 0,
                hovertemplate=f"{b}: channels up to %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(tickformat=".0%")
    return layout(
        fig,
        "Which branch carries the signal? Share of activation energy (Σ a²) per block",
        "block",
        "share of the block's energy",
        height=380,
    )
