"""Transposed convolution: every input cell stamps a scaled copy of the kernel; overlaps add up.

Taught twice, as everywhere in this project:

- :func:`conv_transpose_by_hand` — for each input cell, add ``x[i, j] · K`` into
  the output at ``(i·s, j·s)`` (a scatter), then cut ``p`` pixels off every side;
- :func:`conv_transpose` — ``F.conv_transpose2d``.

Tests prove they agree, and that :func:`transposed_output_size` equals the shape
``nn.ConvTranspose2d`` produces. It is the *transpose* of a convolution (it maps
a conv's output shape back to its input shape, and its gradient is a conv's), not
its inverse: the values do not come back.

Shapes: ``X (H, W)``, ``K (k, k)`` → ``(H', W')``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lab.params import Param

TRANSPOSE_SPECS = (
    Param("tr_stride", "Transposed: stride s", 2, kind="int", lo=1, hi=3, help="Distance between stamped kernels."),
    Param("tr_padding", "Transposed: padding p", 0, kind="int", lo=0, hi=2, help="Pixels cut off every side."),
)


class TransposeGeometryError(ValueError):
    """A padding that cuts away the whole output; ``str()`` is for the student."""


def transposed_output_size(
    n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1, output_padding: int = 0
) -> int:
    """(n − 1)·s − 2p + d·(k − 1) + output_padding + 1, as documented for ``nn.ConvTranspose2d``."""
    return (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


def transposed_formula_latex(n: int, k: int, stride: int, padding: int, axis: str = "H") -> str:
    """The formula with these numbers, for ``st.latex``."""
    out = transposed_output_size(n, k, stride, padding)
    return (
        rf"\begin{{aligned}}{axis}_{{\text{{out}}}} &= (n - 1)\,s - 2p + (k - 1) + 1\\"
        rf"&= ({n} - 1)\cdot {stride} - 2\cdot {padding} + ({k} - 1) + 1 = {out}\end{{aligned}}"
    )


def check_transpose(height: int, width: int, k: int, stride: int, padding: int) -> tuple[int, int]:
    """The output ``(H', W')``, or :class:`TransposeGeometryError` when padding leaves nothing."""
    H, W = (transposed_output_size(n, k, stride, padding) for n in (height, width))
    if min(H, W) < 1:
        full = transposed_output_size(min(height, width), k, stride, 0)
        raise TransposeGeometryError(
            f"No output: before cutting, the stamped output is {full} pixels, and padding p = {padding} cuts "
            f"2·{padding} = {2 * padding} of them. Use less padding."
        )
    return H, W


def conv_transpose_by_hand(X: torch.Tensor, K: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """Scatter: ``out[i·s : i·s + k, j·s : j·s + k] += X[i, j] · K``, then drop ``p`` pixels on every side."""
    H, W = X.shape
    k = K.shape[-1]
    check_transpose(H, W, k, stride, padding)
    full = torch.zeros((H - 1) * stride + k, (W - 1) * stride + k, dtype=X.dtype)
    for i in range(H):
        for j in range(W):
            full[i * stride : i * stride + k, j * stride : j * stride + k] += X[i, j] * K  # overlaps add up
    return full[padding : full.shape[0] - padding, padding : full.shape[1] - padding]


def conv_transpose(X: torch.Tensor, K: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """``F.conv_transpose2d`` on ``X (H, W)`` with one ``K (k, k)``."""
    check_transpose(X.shape[0], X.shape[1], K.shape[-1], stride, padding)
    return F.conv_transpose2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0]
