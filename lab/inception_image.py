"""GoogLeNet on one photo: preprocessing, top-5, feature maps, branch energy, knock-outs, receptive fields.

Everything here runs the shared model through :func:`lab.inception.run_network`
under ``torch.inference_mode()``: no hooks, no ``.train()``, no change to the
model, so one cached model serves every session. Results come back on the CPU
as numpy arrays (small: only the strongest channels' maps are kept).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from lab.device import large_work
from lab.figures import colorize
from lab.inception import (
    BLOCKS,
    BRANCHES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Capture,
    Field,
    receptive_fields,
    run_network,
    transform_input,
)

RESIZE = 256  # torchvision's ImageClassification preset for GoogLeNet: shorter side → 256
CROP = 224  # then a centre crop of 224×224


# --- preprocessing -----------------------------------------------------------------------------------


@dataclass
class Preprocessed:
    """The photo on its way into the network, stage by stage."""

    original_size: tuple[int, int]  # (W, H) of the working image
    resized: np.ndarray  # (H', W', 3) uint8: shorter side resized to 256 (bilinear, antialiased)
    crop: np.ndarray  # (224, 224, 3) uint8: centre crop — what the network sees
    crop_box: tuple[int, int, int, int]  # (left, top, right, bottom) of the crop in the resized image
    X: torch.Tensor  # (1, 3, 224, 224) float32, ImageNet-normalised: (pixel/255 − mean) / std
    stats: dict[str, tuple[float, float]] = field(default_factory=dict)  # stage → (min, max)


def preprocess(image: Image.Image, *, resize: int = RESIZE, crop: int = CROP) -> Preprocessed:
    """torchvision's GoogLeNet preset by hand: resize shorter side, centre crop, scale to [0, 1], normalise.

    Matches ``GoogLeNet_Weights.IMAGENET1K_V1.transforms()`` exactly (tested).
    """
    image = image.convert("RGB")
    w, h = image.size
    size = (resize, int(resize * h / w)) if w <= h else (int(resize * w / h), resize)
    resized = image.resize(size, Image.Resampling.BILINEAR)
    rw, rh = resized.size
    top, left = round((rh - crop) / 2.0), round((rw - crop) / 2.0)
    if rw < crop or rh < crop:  # tiny resize values only; pad like torchvision's center_crop
        raise ValueError(f"resize {resize} is smaller than the crop {crop}")
    box = (left, top, left + crop, top + crop)
    cropped = np.asarray(resized.crop(box), dtype=np.uint8)
    x01 = torch.from_numpy(cropped.copy()).permute(2, 0, 1).float() / 255.0  # (3, 224, 224) in [0, 1]
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    X = ((x01 - mean) / std).unsqueeze(0)  # (1, 3, 224, 224)
    inner = transform_input(X)
    stats = {
        "pixels [0, 255]": (float(cropped.min()), float(cropped.max())),
        "scaled [0, 1]": (float(x01.min()), float(x01.max())),
        "ImageNet-normalised": (float(X.min()), float(X.max())),
        "after transform_input": (float(inner.min()), float(inner.max())),
    }
    return Preprocessed(image.size, np.asarray(resized), cropped, box, X, stats)


def torchvision_preprocess(image: Image.Image) -> torch.Tensor:
    """The same with torchvision's own preset (the reference the tests compare with): (1, 3, 224, 224)."""
    from torchvision.models import GoogLeNet_Weights

    return GoogLeNet_Weights.IMAGENET1K_V1.transforms()(image.convert("RGB")).unsqueeze(0)


# --- one inspection ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes."""

    index: int  # ImageNet class index 0…999
    name: str
    prob: float  # softmax probability


@dataclass
class Inspection:
    """What one forward pass showed about the photo."""

    top: list[Prediction]  # top-5, most likely first
    layer: str  # "inception4c", "conv2", …
    branch: str  # "all" or "branch1" … "branch4"
    stage: str  # "post" (after ReLU) or "pre" (BN output, before ReLU)
    maps: np.ndarray  # (k, h, w) float32: the strongest channels' maps
    channels: list[int]  # their indices within the selection
    concat_channels: list[int]  # their indices in the layer's (concatenated) output
    channel_energy: np.ndarray  # (k,) mean square activation of each shown channel
    energy: dict[str, np.ndarray]  # block → (4,) each branch's share of the block's activation energy
    widths: dict[str, np.ndarray]  # block → (4,) each branch's share of the block's channels
    field: Field  # receptive field of one cell of the shown maps
    seconds: float  # wall-clock of the forward pass


def top_k(logits: torch.Tensor, names: list[str], k: int = 5) -> list[Prediction]:
    """Softmax over the 1000 classes, then the ``k`` most likely. ``logits`` (1, 1000)."""
    probs = torch.softmax(logits.float(), dim=1)[0]
    values, indices = probs.topk(k)
    return [Prediction(int(i), names[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]


def _selection_key(layer: str, branch: str, stage: str) -> str:
    key = layer if branch == "all" else f"{layer}.{branch}"
    return f"{key}.pre" if stage == "pre" else key


def _offset(model: nn.Module, layer: str, branch: str) -> int:
    if branch == "all" or layer not in BLOCKS:
        return 0
    block = getattr(model, layer)
    start = 0
    for b in BRANCHES:
        if b == branch:
            return start
        start += [m for m in getattr(block, b).modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    raise ValueError(branch)


@large_work  # a hot path: the compute policy picks its threads (lab.device)
def inspect(
    model: nn.Module,
    X: torch.Tensor,
    names: list[str],
    *,
    layer: str = "inception4c",
    branch: str = "all",
    stage: str = "post",
    k: int = 16,
    device: str = "cpu",
) -> Inspection:
    """One forward pass that keeps all four branches of every block, plus the chosen pre-ReLU map if asked.

    ``X`` (1, 3, H, W) ImageNet-normalised. Channels are ranked by energy
    (mean square activation) — for post-ReLU maps that is "how strongly and
    how widely the channel fired". Returns CPU numpy arrays.
    """
    if layer not in BLOCKS and branch != "all":
        raise ValueError(f"{layer} has no branches")
    if stage not in ("pre", "post"):
        raise ValueError(f"stage must be 'pre' or 'post', not {stage!r}")
    sel = _selection_key(layer, branch, stage)
    pre = (sel.removesuffix(".pre"),) if stage == "pre" else ()
    capture = Capture(layers=(layer,) if layer not in BLOCKS else (), branches=BLOCKS, pre_relu=pre)
    t0 = time.perf_counter()
    with torch.inference_mode():
        logits, acts = run_network(model, X.to(device), capture)
        if sel not in acts and layer in BLOCKS and branch == "all":
            acts[sel] = torch.cat([acts[f"{layer}.{b}"] for b in BRANCHES], 1)
        A = acts[sel][0]  # (C, h, w)
        channel_energy = A.float().pow(2).mean(dim=(1, 2))  # (C,)
        order = channel_energy.argsort(descending=True)[: min(k, A.shape[0])]
        maps = A[order].float().cpu().numpy()
        energies = {}
        for b in BLOCKS:
            e = torch.stack([acts[f"{b}.{br}"].float().pow(2).sum() for br in BRANCHES])
            energies[b] = e
        top = top_k(logits, names)
        energy = {b: (e / e.sum().clamp_min(1e-30)).cpu().numpy() for b, e in energies.items()}
        widths = {
            b: np.array([acts[f"{b}.{br}"].shape[1] for br in BRANCHES], dtype=np.float64)
            / sum(acts[f"{b}.{br}"].shape[1] for br in BRANCHES)
            for b in BLOCKS
        }
        ce = channel_energy[order].cpu().numpy()
    seconds = time.perf_counter() - t0
    fields = receptive_fields(model)
    fkey = layer if branch == "all" else f"{layer}.{branch}"
    offset = _offset(model, layer, branch)
    ch = [int(i) for i in order.cpu()]
    return Inspection(
        top, layer, branch, stage, maps, ch, [c + offset for c in ch], ce, energy, widths, fields[fkey], seconds
    )


# --- branch knock-out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnockOut:
    """Top-5 before and after zeroing one branch of one block."""

    block: str
    branch: str
    before: list[Prediction]
    after: list[Prediction]
    top1_prob_before: float  # probability of the original top-1 class
    top1_prob_after: float  # the same class after the knock-out
    kl: float  # KL(before ‖ after) over the 1000 classes, in nats


@large_work  # a hot path: the compute policy picks its threads (lab.device)
def knock_out(
    model: nn.Module, X: torch.Tensor, names: list[str], block: str, branch: str, *, device: str = "cpu"
) -> KnockOut:
    """Zero one branch's output inside the forward pass (the model is not modified) and compare top-5."""
    with torch.inference_mode():
        X = X.to(device)
        logits, _ = run_network(model, X)
        ko, _ = run_network(model, X, Capture(knockout=(f"{block}.{branch}",)))
        p, q = torch.softmax(logits.float(), 1)[0], torch.softmax(ko.float(), 1)[0]
        i = int(p.argmax())
        kl = float((p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum())
    return KnockOut(block, branch, top_k(logits, names), top_k(ko, names), float(p[i]), float(q[i]), kl)


@large_work  # a hot path: the compute policy picks its threads (lab.device)
def knock_out_all(model: nn.Module, X: torch.Tensor, *, device: str = "cpu") -> dict[str, np.ndarray]:
    """For every block, the top-1 class's probability with each branch zeroed: block → (4,) (36 forwards)."""
    out: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        X = X.to(device)
        logits, _ = run_network(model, X)
        i = int(logits.argmax())
        for b in BLOCKS:
            row = []
            for br in BRANCHES:
                ko, _ = run_network(model, X, Capture(knockout=(f"{b}.{br}",)))
                row.append(float(torch.softmax(ko.float(), 1)[0, i]))
            out[b] = np.array(row)
    return out


# --- pictures ----------------------------------------------------------------------------------------


def upsample(amap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One (h, w) map → (H, W) by bilinear interpolation (align_corners=False, like the CNN's geometry)."""
    t = torch.as_tensor(np.asarray(amap, dtype=np.float32))[None, None]
    return torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def overlay(image: np.ndarray, amap: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """Blend a feature map (h, w), upsampled and coloured (Viridis / diverging), onto ``image`` (H, W, 3) uint8."""
    H, W = image.shape[:2]
    colored = colorize(upsample(amap, (H, W)))[0].astype(np.float32)
    return np.clip((1 - alpha) * image.astype(np.float32) + alpha * colored, 0, 255).astype(np.uint8)


def draw_field(image: np.ndarray, field_: Field, i: int, j: int, *, color=(255, 64, 0)) -> np.ndarray:
    """Draw the receptive field of feature-map cell (row i, col j) on ``image`` (H, W, 3) uint8."""
    H, W = image.shape[:2]
    top, left, bottom, right = field_.box(i, j, H, W)
    pil = Image.fromarray(image.copy())
    draw = ImageDraw.Draw(pil)
    draw.rectangle((left, top, right, bottom), outline=color, width=3)
    cy, cx = field_.start + i * field_.jump, field_.start + j * field_.jump
    draw.ellipse((cx - 4, cy - 4, cx + 4, cy + 4), fill=color)
    return np.asarray(pil)


def cell_grid(image: np.ndarray, field_: Field, hw: tuple[int, int]) -> np.ndarray:
    """Mark every feature-map cell's centre on the image (shows the stride/jump)."""
    pil = Image.fromarray(image.copy())
    draw = ImageDraw.Draw(pil)
    for i in range(hw[0]):
        for j in range(hw[1]):
            cy, cx = field_.start + i * field_.jump, field_.start + j * field_.jump
            draw.point((cx, cy), fill=(255, 255, 255))
    return np.asarray(pil)


# --- show me the code -----------------------------------------------------------------------------------

SNIPPET = """
import torch
from torchvision.models import GoogLeNet_Weights, googlenet
from torchvision.models.feature_extraction import create_feature_extractor

torch.manual_seed({seed})
# weights=GoogLeNet_Weights.IMAGENET1K_V1 for the trained network (downloads ~50 MB once)
model = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True).eval()
for m in model.modules():  # untrained: He init keeps the signal alive through 22 layers
    if isinstance(m, torch.nn.Conv2d):
        torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
preprocess = GoogLeNet_Weights.IMAGENET1K_V1.transforms()  # resize 256, crop 224, normalise
X = preprocess(image.convert("RGB")).unsqueeze(0)  # (1, 3, 224, 224); `image` is a PIL image

# Each branch's output after its last ReLU, as named in torchvision's traced graph.
nodes = {{
    "branch1": "{layer}.branch1.relu",
    "branch2": "{layer}.branch2.1.relu",
    "branch3": "{layer}.branch3.1.relu",  # the paper's 5×5 branch: a 3×3 conv in torchvision
    "branch4": "{layer}.branch4.1.relu",
}}
extractor = create_feature_extractor(model, return_nodes={{**{{v: k for k, v in nodes.items()}}, "fc": "logits"}})
with torch.inference_mode():
    out = extractor(X)
probs = torch.softmax(out["logits"], dim=1)[0]
top5 = probs.topk(5)
names = GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"]
for p, i in zip(top5.values, top5.indices):
    print(f"{{names[i]:>25s}} {{p:.2%}}")
for b in ("branch1", "branch2", "branch3", "branch4"):
    energy = out[b].pow(2).sum()
    print(b, tuple(out[b].shape), f"energy {{energy:.4g}}")
"""


def snippet(layer: str, seed: int) -> str:
    """Plain torchvision code for the top-5 and the four branch outputs of ``layer`` (an inception block)."""
    from lab.codegen import code, render_snippet

    return render_snippet(SNIPPET, seed=seed, layer=code(layer))
