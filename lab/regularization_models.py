"""Lab 4's networks: an MLP and a small CNN whose hidden blocks carry the chosen regulariser / normaliser.

Every configuration of one seed starts from identical weights (drawn from a
private generator, layer by layer), so differences on the page come from the
regulariser alone.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations

from lab.dropout import DropConnectLinear, Dropout
from lab.regularization_config import ACTIVATIONS, BN_TRACE_UNITS, VARIANTS, CompareConfig, Variant

# --- the model ----------------------------------------------------------------------------------


class _Blocks(nn.Module):
    """What :class:`MLP` and :class:`CNN` share: each hidden block ends norm → activation → dropout.

    ``record = True`` keeps every hidden pre-activation (the input of the
    nonlinearity) in ``pre_activations``; ``bn_trace`` (a list with BN) collects
    the first BN layer's batch statistics in training mode.
    """

    norms: nn.ModuleList

    def _block_setup(
        self, activation: str, variant: Variant, p: float, p_in: float, generator: torch.Generator | None
    ) -> None:
        self.act = ACTIVATIONS[activation]()
        self.drop = Dropout(p, generator) if variant.dropout and p > 0 else None
        self.drop_in = Dropout(p_in, generator) if variant.dropout and p_in > 0 else None
        self.record = False
        self.pre_activations: list[Tensor] = []
        self.bn_trace: list[Tensor] | None = [] if variant.batch_norm else None

    def _activate(self, i: int, z: Tensor, norms: list[nn.Module]) -> Tensor:
        """Block ``i``'s tail on its pre-norm output ``z``: [norm] → (record) → activation → [dropout]."""
        if norms:
            z = norms[i](z)
        if self.record:
            self.pre_activations.append(z.detach())
        h = self.act(z)
        return h if self.drop is None else self.drop(h)


class MLP(_Blocks):
    """[input dropout] → (Linear → [BN | LN] → activation → [dropout]) × ``depth`` → Linear head.

    ``record = True`` makes ``forward`` keep every hidden pre-activation (the
    input of the nonlinearity) in ``self.pre_activations``; ``bn_trace`` (a
    list) collects the first BN layer's batch statistics in training mode.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        depth: int = 2,
        width: int = 128,
        activation: str = "relu",
        variant: Variant = VARIANTS["baseline"],
        p: float = 0.5,
        p_in: float = 0.0,
        bn_momentum: float = 0.1,
        bias: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [in_features] + [width] * depth
        drop_w = variant.dropconnect and p > 0
        self.linears = nn.ModuleList(
            DropConnectLinear(a, b, bias=bias, p=p, generator=generator) if drop_w else nn.Linear(a, b, bias=bias)
            for a, b in itertools.pairwise(sizes)
        )
        if variant.batch_norm:
            self.norms = nn.ModuleList(nn.BatchNorm1d(width, momentum=bn_momentum) for _ in range(depth))
        elif variant.layer_norm:
            self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
        else:
            self.norms = nn.ModuleList()  # none: skipped in forward (no Identity calls in the hot loop)
        self._block_setup(activation, variant, p, p_in, generator)
        self.head = nn.Linear(width, num_classes)

    def layers(self) -> list[nn.Linear]:
        """Every Linear layer, input side first (the head last)."""
        return [*self.linears, self.head]

    def forward(self, X: Tensor) -> Tensor:  # (N, D) → logits (N, num_classes)
        if self.record:
            self.pre_activations = []
        h = X if self.drop_in is None else self.drop_in(X)
        norms = list(self.norms)
        for i, linear in enumerate(self.linears):
            z = linear(h)  # (N, width)
            if i == 0 and self.bn_trace is not None and self.training:
                zk = z.detach()[:, :BN_TRACE_UNITS]
                self.bn_trace.append(torch.stack([zk.mean(0), zk.var(0)]))  # (2, K): mean, unbiased var
            h = self._activate(i, z, norms)
        return self.head(h)


class CNN(_Blocks):
    """A small CNN for square grey images given as flat rows (N, side²).

    ``depth`` blocks of Conv2d(3×3, padding 1) → [BatchNorm2d | LayerNorm over
    (C, H, W)] → activation → [dropout] → MaxPool2d(2) (pooling only while the
    maps are at least 4 pixels wide: 8 → 4 → 2 on the digits, 28 → 14 → 7 →
    3 on MNIST), then a Linear head on the flattened maps. DropConnect drops the
    head's weights (the classifier); input dropout drops pixels. The same
    attributes as :class:`MLP` (``layers``, ``norms``, ``record``,
    ``pre_activations``, ``bn_trace``), so training and recording are shared.
    """

    def __init__(
        self,
        side: int,
        num_classes: int,
        *,
        depth: int = 2,
        channels: int = 32,
        activation: str = "relu",
        variant: Variant = VARIANTS["baseline"],
        p: float = 0.5,
        p_in: float = 0.0,
        bn_momentum: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.side = side
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else channels, channels, 3, padding=1) for i in range(depth))
        sides, s = [], side
        for _ in range(depth):
            sides.append(s)  # the map size entering each block's norm
            s = s // 2 if s >= 4 else s
        self.pool = [sides[i] >= 4 for i in range(depth)]
        if variant.batch_norm:
            self.norms = nn.ModuleList(nn.BatchNorm2d(channels, momentum=bn_momentum) for _ in range(depth))
        elif variant.layer_norm:
            self.norms = nn.ModuleList(nn.LayerNorm([channels, n, n]) for n in sides)
        else:
            self.norms = nn.ModuleList()
        self._block_setup(activation, variant, p, p_in, generator)
        n_flat = channels * s * s
        if variant.dropconnect and p > 0:
            self.head: nn.Linear = DropConnectLinear(n_flat, num_classes, p=p, generator=generator)
        else:
            self.head = nn.Linear(n_flat, num_classes)

    def layers(self) -> list[nn.Module]:
        """Every Conv2d, input side first, then the Linear head."""
        return [*self.convs, self.head]

    def forward(self, X: Tensor) -> Tensor:  # (N, side²) → logits (N, num_classes)
        if self.record:
            self.pre_activations = []
        h = X.reshape(len(X), 1, self.side, self.side)
        if self.drop_in is not None:
            h = self.drop_in(h)
        norms = list(self.norms)
        for i, conv in enumerate(self.convs):
            z = conv(h)  # (N, C, H, W)
            if i == 0 and self.bn_trace is not None and self.training:
                zk = z.detach()[:, :BN_TRACE_UNITS].transpose(0, 1).flatten(1)  # (K, N·H·W): BN2d's per-channel sample
                self.bn_trace.append(torch.stack([zk.mean(1), zk.var(1)]))
            h = self._activate(i, z, norms)
            if self.pool[i]:
                h = F.max_pool2d(h, 2)
        return self.head(h.flatten(1))


Model = MLP | CNN


#: Initialisation schemes of :func:`init_linears_` (the vanishing-gradients tab compares them).
INITS = {
    "default": "PyTorch default: U(±1/√fan_in)",
    "xavier": "Xavier/Glorot: U(±√(6/(fan_in + fan_out)))",
    "he": "He/Kaiming (ReLU gain √2): N(0, 2/fan_in)",
}


def init_linears_(model: Model, seed: int, scheme: str = "default") -> None:
    """Initialise every Linear / Conv2d from a private generator, layer by layer in a fixed order.

    ``scheme`` (see :data:`INITS`): ``"default"`` is PyTorch's own init,
    U(−1/√fan_in, 1/√fan_in) for weights and biases; ``"xavier"`` and ``"he"``
    draw the weights as ``nn.init.xavier_uniform_`` / ``kaiming_normal_``
    (ReLU gain √2, fan_in) do and set the biases to 0. The same seed gives every
    configuration (with or without BN, dropout…) *identical* starting weights.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers():
            w = layer.weight
            fan_in = w[0].numel()  # in_features, or in_channels · k · k
            if scheme == "default":
                bound = 1.0 / math.sqrt(fan_in)
                w.copy_((torch.rand(w.shape, generator=g) * 2 - 1) * bound)
                if layer.bias is not None:
                    layer.bias.copy_((torch.rand(layer.bias.shape, generator=g) * 2 - 1) * bound)
                continue
            if scheme == "xavier":
                nn.init.xavier_uniform_(w, generator=g)
            elif scheme == "he":
                nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
            else:
                raise ValueError(f"unknown init scheme {scheme!r}; expected one of {list(INITS)}")
            if layer.bias is not None:
                layer.bias.zero_()


def build_model(
    config: CompareConfig,
    variant: Variant,
    in_features: int,
    num_classes: int,
    seed: int,
    device: str = "cpu",
    image_side: int = 0,
) -> Model:
    """The network of ``variant`` (``config.model``: MLP, or a CNN on ``image_side``² images), on ``device``.

    Initialised from ``seed``: every variant of one seed starts from the same weights.
    """
    gen = torch.Generator(device=device).manual_seed(seed + 2)  # dropout / DropConnect masks
    common = {
        "depth": config.depth,
        "activation": config.activation,
        "variant": variant,
        "p": config.dropout_p,
        "p_in": config.input_dropout,
        "bn_momentum": config.bn_momentum,
        "generator": gen,
    }
    if config.model == "cnn":
        if image_side < 2 or image_side * image_side != in_features:
            raise ValueError("The CNN needs square images; the 2D synthetic set works with the MLP only.")
        model: Model = CNN(image_side, num_classes, channels=config.channels, **common)
    else:
        model = MLP(in_features, num_classes, width=config.width, **common)
    init_linears_(model, seed)
    if variant.weight_norm:  # after init: g = ‖w‖, v = w, so the function at init is unchanged
        for layer in model.layers():
            parametrizations.weight_norm(layer)
    return model.to(device)


def weight_tensors(model: Model) -> list[Tensor]:
    """The weight matrices / kernels that L1/L2 act on (for weight norm: v, the direction)."""
    out = []
    for layer in model.layers():
        if parametrize_active(layer):
            out.append(layer.parametrizations.weight.original1)
        else:
            out.append(layer.weight)
    return out


def parametrize_active(layer: nn.Module) -> bool:
    return hasattr(layer, "parametrizations") and "weight" in layer.parametrizations


def make_optimizer(config: CompareConfig, variant: Variant, model: Model) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD+momentum; L2 only on Linear/Conv2d weights, not on biases or BN/LN γ, β.

    ``weight_decay = λ₂`` adds λ₂·w to every weight's gradient, the gradient of
    (λ₂/2)·‖W‖². Under SGD that is weight decay; under Adam this *coupled* L2 is
    divided by Adam's per-weight scale like any other gradient, so weights with
    large gradients are barely decayed. AdamW applies the decay separately
    (w ← w − lr·λ₂·w, "decoupled weight decay", Loshchilov & Hutter 2019).
    """
    weights = weight_tensors(model)
    ids = {id(w) for w in weights}
    others = [p for p in model.parameters() if id(p) not in ids]
    wd = config.weight_decay if variant.l2 else 0.0
    groups = [{"params": weights, "weight_decay": wd}, {"params": others, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.Adam(groups, lr=config.lr)
