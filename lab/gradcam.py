"""Grad-CAM (Selvaraju et al. 2017): where in the photo did the evidence for a class come from?

For a layer with activations ``A`` (C, h, w) and the class score ``y_c`` (a logit):

    α_k = mean over (i, j) of ∂y_c / ∂A_k[i, j]      # how much channel k matters for class c
    CAM = ReLU( Σ_k α_k · A_k )                       # (h, w), then upsampled to the image

:func:`grad_cam` computes it on the shared model without hooks and without
touching parameters' ``.grad`` (``torch.autograd.grad`` asks only for ∂y/∂A);
:func:`grad_cam_hooks` is the textbook hook version, used by tests as the
reference (it must only run on a private copy of the model).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lab.device import large_work
from lab.inception import Capture, run_network

DEFAULT_LAYER = "inception5b"  # the usual Grad-CAM target for GoogLeNet (pytorch-grad-cam's choice too)


@dataclass(frozen=True)
class CamResult:
    """A class activation map and what it explains."""

    layer: str  # target layer
    class_index: int  # the class explained
    class_prob: float  # its softmax probability
    coarse: np.ndarray  # (h, w) CAM at the layer's resolution, ≥ 0
    cam: np.ndarray  # (H, W) upsampled to the input, scaled to [0, 1]
    channel_weights: np.ndarray  # (C,) α_k
    seconds: float


def _finish(A: torch.Tensor, grads: torch.Tensor, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    alpha = grads[0].mean(dim=(1, 2))  # (C,)
    coarse = F.relu((alpha[:, None, None] * A[0]).sum(0))  # (h, w)
    up = F.interpolate(coarse[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    peak = up.max()
    cam = up / peak if peak > 0 else up
    return coarse.detach().cpu().numpy(), cam.detach().cpu().numpy(), alpha.detach().cpu().numpy()


@large_work  # a hot path: the compute policy picks its threads (lab.device)
def grad_cam(
    model: nn.Module,
    X: torch.Tensor,
    *,
    layer: str = DEFAULT_LAYER,
    class_index: int | None = None,
    device: str = "cpu",
) -> CamResult:
    """Grad-CAM of ``class_index`` (default: the top class) at ``layer`` for one image ``X`` (1, 3, H, W).

    The model is only read: no hooks, no ``.train()``, and parameter ``.grad`` stays untouched.
    Only the layers after ``layer`` build an autograd graph (the first part runs under
    ``no_grad``), so Grad-CAM at inception5b costs about one forward pass.
    """
    t0 = time.perf_counter()
    X = X.detach().clone().to(device)  # a normal tensor even if X was made under inference_mode
    with torch.no_grad():  # nothing before the target layer needs a graph
        _, acts = run_network(model, X, Capture(layers=(layer,), stop_at=layer))
    with torch.enable_grad():
        A = acts[layer].detach().requires_grad_(True)  # (1, C, h, w): the graph starts here
        logits, _ = run_network(model, A, start_after=layer)
        c = int(logits.argmax()) if class_index is None else int(class_index)
        (grads,) = torch.autograd.grad(logits[0, c], A)
    coarse, cam, alpha = _finish(A.detach(), grads, tuple(X.shape[-2:]))
    prob = float(torch.softmax(logits.detach().float(), 1)[0, c])
    return CamResult(layer, c, prob, coarse, cam, alpha, time.perf_counter() - t0)


def grad_cam_hooks(
    model: nn.Module, X: torch.Tensor, *, layer: str = DEFAULT_LAYER, class_index: int | None = None
) -> np.ndarray:
    """The usual hook-based Grad-CAM (forward hook keeps A, tensor hook keeps ∂y/∂A). Private models only.

    Returns the upsampled CAM (H, W) in [0, 1]. Hooks are removed in ``finally``.
    """
    kept: dict[str, torch.Tensor] = {}

    def forward_hook(_module, _inputs, output):
        kept["A"] = output
        output.register_hook(lambda g: kept.__setitem__("grad", g))

    handle = getattr(model, layer).register_forward_hook(forward_hook)
    try:
        with torch.enable_grad():
            logits = model(X.detach().clone())
            c = int(logits.argmax()) if class_index is None else int(class_index)
            model.zero_grad(set_to_none=True)
            logits[0, c].backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    return _finish(kept["A"].detach(), kept["grad"], tuple(X.shape[-2:]))[1]
