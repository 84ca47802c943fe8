"""GoogLeNet's ImageNet weights: find them, check them, or say clearly that there are none.

Where weights can come from, in the order :func:`find_weights` tries them:

1. a ``.pth`` file named by the environment variable :data:`ENV_VAR`;
2. torchvision's file already in the torch hub cache (``~/.cache/torch/hub/checkpoints``);
3. nothing: the **untrained** network (random filters, meaningless predictions).

The page adds two explicit ways: a *download* button (:func:`download_weights`,
never automatic) and an *upload* (:func:`load_state_dict_bytes`).

Every file is read with ``torch.load(weights_only=True)``: the unpickler only
rebuilds tensors and plain containers, so a pickle that carries code is
refused before anything in it runs. Then :func:`check_state_dict` compares
every key and shape with the architecture; anything else is a
:class:`WeightsError` whose message is for the student.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

#: Environment variable naming a local GoogLeNet state_dict (.pth).
ENV_VAR = "DL101_GOOGLENET_WEIGHTS"
#: torchvision's file for ``GoogLeNet_Weights.IMAGENET1K_V1``.
WEIGHTS_URL = "https://download.pytorch.org/models/googlenet-1378be20.pth"
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[-1]
HASH_PREFIX = "1378be20"  # torchvision's check_hash convention: sha256 starts with this
#: Refuse uploads larger than this (the real file is ~50 MB).
MAX_BYTES = 200 * 1024 * 1024


class WeightsError(ValueError):
    """A weights file cannot be used; ``str(err)`` is for the student."""


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a model has, in words."""

    kind: str  # "env", "hub-cache", "file", "upload", "untrained"
    label: str  # shown on the page, e.g. "ImageNet (torch hub cache)"
    pretrained: bool  # False → random filters
    key: str  # identifies the weights in cache keys (path+mtime, digest, or "untrained-<seed>")
    notes: tuple[str, ...] = field(default_factory=tuple)  # what was adjusted while loading


def categories() -> list[str]:
    """The 1000 ImageNet class names from torchvision's weight metadata (no download needed)."""
    from torchvision.models import GoogLeNet_Weights

    return list(GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"])


def hub_cache_path() -> Path:
    """Where torchvision keeps (or would keep) the downloaded GoogLeNet weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def expected_shapes(*, aux_logits: bool = True) -> dict[str, tuple[int, ...]]:
    """Every state_dict key of torchvision's GoogLeNet and its shape (from the meta-device architecture)."""
    from lab.inception import meta_googlenet

    return {k: tuple(v.shape) for k, v in meta_googlenet(aux_logits=aux_logits).state_dict().items()}


def _unwrap(obj: object) -> object:
    """Accept ``{"state_dict": …}`` / ``{"model": …}`` wrappers from training scripts."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
    return obj


def read_state_dict(data: bytes | Path | str, name: str = "weights") -> dict[str, torch.Tensor]:
    """Unpickle a weights file safely (``weights_only=True``) into a ``{key: tensor}`` dict.

    Raises :class:`WeightsError` for anything that is not a state_dict — a
    tensor, a list, an image, a truncated file, or a pickle carrying code
    (which is refused, never executed).
    """
    if isinstance(data, str | Path):
        path = Path(data).expanduser()
        if not path.is_file():
            raise WeightsError(f"“{path}” does not exist or is not a file.")
        if path.stat().st_size > MAX_BYTES:
            raise WeightsError(f"“{path.name}” is larger than {MAX_BYTES // 2**20} MB; GoogLeNet's weights are ~50 MB.")
        data = path.read_bytes()
        name = path.name
    if not data:
        raise WeightsError(f"“{name}” is empty.")
    if len(data) > MAX_BYTES:
        raise WeightsError(f"“{name}” is larger than {MAX_BYTES // 2**20} MB; GoogLeNet's weights are ~50 MB.")
    if not (data[:4] == b"PK\x03\x04" or data[:1] == b"\x80"):  # torch's zip format, or a raw/legacy pickle
        raise WeightsError(
            f"“{name}” is not a PyTorch weights file (it is neither a torch.save zip nor a pickle). "
            "Save one with torch.save(model.state_dict(), path)."
        )
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise WeightsError(
            f"“{name}” was refused: it contains Python objects other than tensors "
            f"(only weights are accepted, and nothing in the file was run). {_culprit(err)}"
        ) from None
    except Exception as err:  # zip errors, truncated files, not a torch file at all
        raise WeightsError(
            f"“{name}” is not a PyTorch weights file ({_short(err)}). Save one with torch.save(model.state_dict(), path)."
        ) from None
    obj = _unwrap(obj)
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(
            f"“{name}” holds a {type(obj).__name__}, not a state_dict (a dict of parameter names → tensors)."
        )
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise WeightsError(f"“{name}” is a dict but not a state_dict: its values must all be tensors.")
    return dict(obj)


def check_state_dict(
    state: Mapping[str, torch.Tensor], name: str = "weights"
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Compare keys and shapes with GoogLeNet's; return the usable dict (aux keys dropped) and notes.

    Accepted differences: a ``module.`` prefix (DataParallel), the aux heads
    present or absent, BatchNorm's ``num_batches_tracked`` missing (old files).
    Everything else — missing or unexpected keys, a shape that differs, a
    non-float tensor — raises :class:`WeightsError` listing a few examples.
    """
    notes: list[str] = []
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
        notes.append("Removed the 'module.' prefix (saved from DataParallel).")
    expected = expected_shapes(aux_logits=True)
    is_aux = lambda k: k.startswith(("aux1.", "aux2."))  # noqa: E731
    optional = lambda k: is_aux(k) or k.endswith("num_batches_tracked")  # noqa: E731
    missing = [k for k in expected if k not in state and not optional(k)]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k}: file {tuple(v.shape)} vs model {expected[k]}"
        for k, v in state.items()
        if k in expected and tuple(v.shape) != expected[k]
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s), e.g. {', '.join(missing[:3])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s), e.g. {', '.join(unexpected[:3])}")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatch(es), e.g. {'; '.join(wrong[:2])}")
    if problems:
        raise WeightsError(f"“{name}” does not fit torchvision's GoogLeNet: " + "; ".join(problems) + ".")
    floats = [k for k, v in state.items() if not k.endswith("num_batches_tracked") and not v.is_floating_point()]
    if floats:
        raise WeightsError(f"“{name}” has non-float parameters, e.g. {floats[0]}.")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise WeightsError(f"“{name}” contains NaN or infinite values, e.g. in {bad[0]}.")
    if any(is_aux(k) for k in state):
        notes.append("The aux classifiers' weights were ignored (they only matter in training).")
    return {k: v.float() for k, v in state.items() if not is_aux(k)}, notes


def model_from_state_dict(state: Mapping[str, torch.Tensor], device: str = "cpu") -> nn.Module:
    """A GoogLeNet (eval mode, no aux heads, ``transform_input=True``) holding ``state``."""
    from torchvision.models import googlenet

    model = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True)
    model.load_state_dict(state, strict=False)  # strict=False only for num_batches_tracked in old files
    return model.eval().to(device)


def load_state_dict_bytes(data: bytes, name: str = "upload") -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """An uploaded file → checked state_dict + its description (digest-keyed)."""
    state, notes = check_state_dict(read_state_dict(data, name), name)
    digest = hashlib.sha256(data).hexdigest()[:16]
    return state, WeightsInfo("upload", f"uploaded “{name}”", True, f"upload-{digest}", tuple(notes))


def load_state_dict_file(path: Path | str, kind: str = "file") -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """A local file → checked state_dict + its description (path+mtime-keyed)."""
    path = Path(path).expanduser()
    state, notes = check_state_dict(read_state_dict(path), path.name)
    label = {"env": f"${ENV_VAR} ({path.name})", "hub-cache": "ImageNet (torch hub cache)"}.get(kind, str(path))
    key = f"{kind}-{path.resolve()}-{path.stat().st_mtime_ns}"
    return state, WeightsInfo(kind, label, True, key, tuple(notes))


def untrained_info(seed: int) -> WeightsInfo:
    return WeightsInfo("untrained", f"untrained (random init, seed {seed})", False, f"untrained-{seed}")


def find_weights() -> tuple[Path, str] | None:
    """The first local weights file available: ``$DL101_GOOGLENET_WEIGHTS``, then the hub cache."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser(), "env"
    cached = hub_cache_path()
    if cached.is_file():
        return cached, "hub-cache"
    return None


def download_weights(on_progress: Callable[[float], None] | None = None) -> Path:
    """Download torchvision's GoogLeNet weights into the hub cache (explicit user action only).

    The sha256 prefix is checked. Offline or blocked networks raise
    :class:`WeightsError` with a message saying how to provide the file instead.
    """
    target = hub_cache_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if on_progress is not None:
            on_progress(0.0)
        torch.hub.download_url_to_file(WEIGHTS_URL, str(target), hash_prefix=HASH_PREFIX, progress=False)
        if on_progress is not None:
            on_progress(1.0)
    except Exception as err:  # URLError, HTTPError, timeouts, hash mismatch (RuntimeError)
        raise WeightsError(
            f"Could not download the weights ({_short(err)}). Without a network, copy {WEIGHTS_FILE} "
            f"into {target.parent} or point ${ENV_VAR} at it, or upload it below."
        ) from None
    return target


def _culprit(err: BaseException) -> str:
    """The useful line of torch's long weights_only message (which global was refused)."""
    for line in str(err).splitlines():
        if "Unsupported" in line or "global" in line.lower():
            return "Found: " + _short(RuntimeError(line.strip()))
    return ""


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) < 160 else text[:157] + "…"
