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

Split along those concepts: this module is the model, its forward pass and the
per-layer table; :mod:`lab.inception_block` is one block's anatomy and the naive
block; :mod:`lab.inception_paper` is Table 1 and the deviations;
:mod:`lab.inception_figures` draws them. Every old name is still importable from
here (``from lab.inception import DEVIATIONS`` works).

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
#: Bytes per activation value (float32), for the activation-memory column.
FLOAT_BYTES = 4

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
    random filters still respond differently to different photos.

    Every draw comes from a private generator (:func:`lab.augment_rng.private_rng`)
    seeded as ``torch.manual_seed(seed)`` seeds the global one, so the weights
    equal the code snippet's (which calls ``torch.manual_seed``) bit for bit, but
    the global RNG is neither read nor advanced: another session drawing from it
    or reseeding it at the same time (``fork_rng`` only saves and restores the
    shared state) cannot change the model that is then cached for everyone.
    """
    from torchvision.models import googlenet

    from lab.augment_rng import private_rng

    with private_rng(seed):
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
    in_shape: tuple[int, ...] = ()  # input shape without the batch dim (torchinfo's "Input Shape")
    act_bytes: int = 0  # memory of this layer's output for one image in float32 (what a forward pass stores)


@dataclass
class ArchTable:
    """The whole network at one input size."""

    input_size: tuple[int, int]  # (H, W)
    rows: list[LayerRow] = field(default_factory=list)
    ok: bool = True  # False when the input is too small to get through
    problem: str = ""  # why not, in words
    model_params: int = 0  # the whole network's parameters (aux excluded): do not depend on the input size

    @property
    def total_params(self) -> int:
        """Parameters of the network (6,624,904), even when a too-small input stops the table early."""
        return self.model_params or sum(r.params for r in self.rows if not r.aux)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows if not r.aux)

    @property
    def total_act_bytes(self) -> int:
        """Sum of every layer's output for one image (float32): what a forward pass keeps for backward."""
        return sum(r.act_bytes for r in self.rows if not r.aux)

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
    table.model_params = main_params(model)
    fields = receptive_fields(model)
    channels = 3
    in_shape: tuple[int, ...] = (3, *size)
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
                in_shape=in_shape,
                act_bytes=math.prod(shape) * FLOAT_BYTES,
            )
        )
        in_shape = shape
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
                    in_shape=shape,
                    act_bytes=head.fc2.out_features * FLOAT_BYTES,
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


def format_bytes(n: float) -> str:
    """3211264 → '3.06 MiB'; 4000 → '3.9 KiB'."""
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return f"{n:.0f} B"


def first_field_beyond_input(table: ArchTable) -> LayerRow | None:
    """The first layer (aux heads skipped) whose theoretical receptive field is larger than the input.

    "Larger" means wider than the image's longer side, so the field covers it
    whole; ``None`` when no layer's field gets there (e.g. 379 px at inception5b
    against a 512×512 input). Global layers (``rf is None``) are not counted.
    """
    side = max(table.input_size)
    return next((r for r in table.rows if not r.aux and r.rf is not None and r.rf > side), None)


def table_records(table: ArchTable) -> list[dict]:
    """The table as records for ``st.dataframe`` (no maths in pages)."""
    return [
        {
            "layer": r.name,
            "type": r.kind,
            "input shape": "×".join(str(s) for s in r.in_shape),
            "output shape": "×".join(str(s) for s in r.shape),
            "activation memory": format_bytes(r.act_bytes),
            "params": r.params,
            "MACs": r.macs,
            "theoretical receptive field": "whole image"
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


# --- re-exported from the split modules (``from lab.inception import DEVIATIONS`` keeps working) ---------

#: name → module it now lives in. Resolved lazily (PEP 562): those modules import this one.
_MOVED: dict[str, str] = {
    **dict.fromkeys(
        ("BlockAnatomy", "BranchInfo", "NaiveCost", "block_anatomy", "naive_block_cost"), "lab.inception_block"
    ),
    **dict.fromkeys(
        ("BRANCH_COLORS", "block_figure", "cost_chart", "energy_chart", "knockout_figure", "overview_figure"),
        "lab.inception_figures",
    ),
    **dict.fromkeys(
        (
            "DEVIATIONS",
            "PAPER_CONFIG",
            "PAPER_PRINTED",
            "Deviation",
            "PaperRow",
            "deviations",
            "paper_block_params",
            "paper_branch_channels",
            "paper_records",
            "paper_vs_torchvision",
            "torchvision_config",
        ),
        "lab.inception_paper",
    ),
}


def __getattr__(name: str):
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'lab.inception' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_MOVED])
