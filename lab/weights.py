"""GoogLeNet's ImageNet weights: find them, check them, or say clearly that there are none.

Where weights can come from, in the order :func:`find_weights` tries them:

1. a ``.pth`` file named by the environment variable :data:`ENV_VAR`;
2. torchvision's file already in the torch hub cache (``~/.cache/torch/hub/checkpoints``);
3. nothing: the **untrained** network (random filters, meaningless predictions).

The page adds two explicit ways: a *download* button (:func:`download_weights`,
never automatic) and an *upload* (:func:`load_state_dict_bytes`).

Before anything is unpickled, :func:`inspect_archive` reads the zip's
directory (a few KB) and refuses what ``torch.load`` would otherwise inflate:
compressed members (a 1 MB zip bomb inflated to 1.1 GB inside ``torch.load``),
sizes that do not add up, more than :data:`MAX_ENTRIES` members, a total above
:data:`MAX_UNCOMPRESSED`, names ``torch.save`` never writes, and the legacy
(pre-1.6) format, whose header declares storage sizes that are allocated
before they are read. Only then is the file read with
``torch.load(weights_only=True)``: the unpickler only rebuilds tensors and
plain containers, so a pickle that carries code is refused before anything in
it runs. Then :func:`check_state_dict` compares every key and shape with the
architecture; anything else is a :class:`WeightsError` whose message is for
the student. Refusals are remembered by SHA-256 (:func:`load_state_dict_bytes`),
so the same bad file is not parsed again on every rerun.

"Verified ImageNet weights" means one thing only: the file's SHA-256 starts
with the prefix torchvision publishes in the file name (``googlenet-1378be20.pth``
→ ``1378be20…``), torchvision's own ``check_hash`` rule. Any other file that
fits the architecture is "custom weights"; :func:`looks_untrained` flags
weights whose predictions on the sample photos are near-uniform.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

#: Environment variable naming a local GoogLeNet state_dict (.pth).
ENV_VAR = "DL101_GOOGLENET_WEIGHTS"
#: torchvision's file for ``GoogLeNet_Weights.IMAGENET1K_V1``.
WEIGHTS_URL = "https://download.pytorch.org/models/googlenet-1378be20.pth"
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[-1]
HASH_PREFIX = "1378be20"  # torchvision's check_hash convention: sha256 starts with this
#: Largest weights file accepted, in MiB (torchvision's file, aux heads included, is 49.7 MiB).
#: The page's uploader uses the same number as its per-widget limit.
MAX_MB = 64
MAX_BYTES = MAX_MB * 1024 * 1024
#: Cap on the zip's total *uncompressed* size: GoogLeNet in float32 with aux heads is 49.7 MiB.
MAX_UNCOMPRESSED = 60 * 1024 * 1024
#: Cap on the number of zip members (torchvision's file has 370: one per tensor plus 7 bookkeeping files).
MAX_ENTRIES = 1000
#: Cap on the pickle (``data.pkl``) inside the zip: torchvision's is 51 KB.
MAX_PICKLE = 4 * 1024 * 1024
#: The names ``torch.save`` writes inside its zip (after the archive's top folder).
MEMBER_NAME = re.compile(
    r"(data\.pkl|version|byteorder|\.format_version|\.storage_alignment|\.data/version"
    r"|\.data/serialization_id|data/\d{1,7})"
)
#: How to load a file larger than the upload limit, for messages.
HOW_TO_LOAD_LARGE = (
    f"start the app with the environment variable {ENV_VAR} set to the file's path, or copy "
    f"{WEIGHTS_FILE} into torch's hub cache (~/.cache/torch/hub/checkpoints/)"
)


def upload_allowed(server_max_mb: int) -> bool:
    """Whether to offer the weights uploader on a server whose ``server.maxUploadSize`` is ``server_max_mb``.

    A per-widget ``max_upload_size`` is checked by the browser only; the server
    refuses anything above its own cap. Where that cap is below :data:`MAX_MB`
    (a public server keeps 20 MB, enough for photos, CSVs and WAVs:
    ``deploy/streamlit-hosting.toml``) a real weights file (~50 MB) would be
    accepted by the widget and then refused by the server, so the page offers no
    weights upload there and says how the weights get installed instead.
    """
    return int(server_max_mb) >= MAX_MB


class WeightsError(ValueError):
    """A weights file cannot be used; ``str(err)`` is for the student."""


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a model has, in words."""

    kind: str  # "env", "hub-cache", "file", "upload", "untrained"
    label: str  # where they came from, e.g. "torch hub cache (googlenet-1378be20.pth)"; never user text
    pretrained: bool  # False → random filters (built here); True → loaded from a file (which may be anything)
    key: str  # identifies the weights in cache keys (path+mtime, digest, or "untrained-<seed>")
    notes: tuple[str, ...] = field(default_factory=tuple)  # what was adjusted while loading
    sha256: str = ""  # the file's SHA-256 (hex); "" for the untrained network
    verified: bool = False  # the SHA-256 matches torchvision's published file (see is_verified)
    untrained_look: bool = False  # near-uniform predictions on the sample photos (see looks_untrained)

    @property
    def status(self) -> str:
        """What the page may claim, in one phrase."""
        if not self.pretrained:
            return "untrained network (random filters)"
        if self.verified:
            return "verified ImageNet weights"
        return "custom weights, loaded" + (" — these weights look untrained" if self.untrained_look else "")

    @property
    def trustworthy(self) -> bool:
        """False while predictions mean nothing: random init, or loaded weights that look untrained."""
        return self.pretrained and not self.untrained_look


def is_verified(sha256_hex: str) -> bool:
    """torchvision's check: the SHA-256 of ``googlenet-1378be20.pth`` starts with ``1378be20``."""
    return sha256_hex.lower().startswith(HASH_PREFIX)


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


def _too_large(name: str) -> WeightsError:
    return WeightsError(
        f"{name} is larger than {MAX_MB} MB, the limit for weights files (torchvision's GoogLeNet file is "
        f"about 50 MB). To load a larger file, {HOW_TO_LOAD_LARGE}."
    )


def inspect_archive(data: bytes, name: str = "The file") -> None:
    """Refuse a ``torch.save`` zip that would inflate or allocate beyond the caps, reading only its directory.

    Checked before ``torch.load`` runs: the central directory parses; at most
    :data:`MAX_ENTRIES` members; every member *stored* (``torch.save`` never
    compresses, so a deflated member can only be a zip bomb), its stored size
    equal to its size and inside the file; every name one that ``torch.save``
    writes, under one top folder; ``data.pkl`` present and at most
    :data:`MAX_PICKLE`; the sum of sizes at most :data:`MAX_UNCOMPRESSED`.
    Costs a few KB of memory whatever the file claims.
    """
    if len(data) > MAX_BYTES:
        raise _too_large(name)
    if data[:4] != b"PK\x03\x04":
        if data[:1] == b"\x80":
            raise WeightsError(
                f"{name} uses PyTorch's legacy (before 1.6) format, which is not accepted here: its header "
                "declares sizes that are allocated before they can be checked. Re-save it with a current "
                "PyTorch: torch.save(torch.load(path, weights_only=True), new_path)."
            )
        raise WeightsError(
            f"{name} is not a PyTorch weights file (it is not a torch.save zip). "
            "Save one with torch.save(model.state_dict(), path)."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    # NotImplementedError: a directory entry claiming a zip version newer than zipfile reads (found by the fuzzer)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as err:
        raise WeightsError(f"{name} is a damaged zip ({_short(err)}), not a torch.save file.") from None
    if not infos:
        raise WeightsError(f"{name} is an empty zip, not a torch.save file.")
    if len(infos) > MAX_ENTRIES:
        raise WeightsError(
            f"{name} has {len(infos):,} members; a GoogLeNet state_dict has about 370 (at most {MAX_ENTRIES:,} "
            "are accepted)."
        )
    top = infos[0].filename.split("/", 1)[0]
    total = 0
    for info in infos:
        folder, _, rest = info.filename.partition("/")
        if folder != top or not MEMBER_NAME.fullmatch(rest):
            raise WeightsError(f"{name} contains a member torch.save never writes; it was not loaded.")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise WeightsError(
                f"{name} has compressed members. torch.save writes them uncompressed, and compressed ones "
                "could inflate far beyond the file's size (a zip bomb), so the file was not loaded."
            )
        if info.header_offset + info.compress_size > len(data):
            raise WeightsError(f"{name} is truncated or its zip directory is wrong; it was not loaded.")
        if rest == "data.pkl" and info.file_size > MAX_PICKLE:
            raise WeightsError(f"{name}'s pickle is {info.file_size:,} bytes; a state_dict's is about 50 KB.")
        total += info.file_size
    if f"{top}/data.pkl" not in {i.filename for i in infos}:
        raise WeightsError(f"{name} has no data.pkl: it is a zip, but not one written by torch.save.")
    if total > MAX_UNCOMPRESSED:
        raise WeightsError(
            f"{name} would unpack to {total / 2**20:.0f} MB; GoogLeNet's float32 weights are 50 MB "
            f"(at most {MAX_UNCOMPRESSED // 2**20} MB accepted). To load a larger file, {HOW_TO_LOAD_LARGE}."
        )


def read_state_dict(data: bytes | Path | str, name: str = "The file") -> dict[str, torch.Tensor]:
    """Unpickle a weights file safely into a ``{key: tensor}`` dict.

    :func:`inspect_archive` first (sizes, members, format), then
    ``torch.load(weights_only=True)``. Raises :class:`WeightsError` for
    anything that is not a state_dict — a tensor, a list, an image, a
    truncated file, a zip bomb, or a pickle carrying code (which is refused,
    never executed). ``name`` starts the messages; never pass user text
    (an upload's file name) here: messages are shown as Markdown.
    """
    if isinstance(data, str | Path):
        path = Path(data).expanduser()
        if not path.is_file():
            raise WeightsError(f"“{path.name}” does not exist or is not a file.")
        name = f"“{path.name}”"
        if path.stat().st_size > MAX_BYTES:
            raise _too_large(name)
        data = path.read_bytes()
    if not data:
        raise WeightsError(f"{name} is empty.")
    inspect_archive(data, name)
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise WeightsError(
            f"{name} was refused: it contains Python objects other than tensors "
            f"(only weights are accepted, and nothing in the file was run). {_culprit(err)}"
        ) from None
    except Exception as err:  # zip errors, truncated files, not a torch file at all
        raise WeightsError(
            f"{name} is not a PyTorch weights file ({_short(err)}). Save one with torch.save(model.state_dict(), path)."
        ) from None
    obj = _unwrap(obj)
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(
            f"{name} holds a {type(obj).__name__}, not a state_dict (a dict of parameter names → tensors)."
        )
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise WeightsError(f"{name} is a dict but not a state_dict: its values must all be tensors.")
    return dict(obj)


def check_state_dict(
    state: Mapping[str, torch.Tensor], name: str = "The file"
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
        raise WeightsError(f"{name} does not fit torchvision's GoogLeNet: " + "; ".join(problems) + ".")
    floats = [k for k, v in state.items() if not k.endswith("num_batches_tracked") and not v.is_floating_point()]
    if floats:
        raise WeightsError(f"{name} has non-float parameters, e.g. {floats[0]}.")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise WeightsError(f"{name} contains NaN or infinite values, e.g. in {bad[0]}.")
    if any(is_aux(k) for k in state):
        notes.append("The aux classifiers' weights were ignored (they only matter in training).")
    return {k: v.float() for k, v in state.items() if not is_aux(k)}, notes


def model_from_state_dict(state: Mapping[str, torch.Tensor], device: str = "cpu") -> nn.Module:
    """A GoogLeNet (eval mode, no aux heads, ``transform_input=True``) holding ``state``."""
    from torchvision.models import googlenet

    model = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True)
    model.load_state_dict(state, strict=False)  # strict=False only for num_batches_tracked in old files
    return model.eval().to(device)


#: SHA-256 → message of files already refused (bounded; shared by all sessions: refusals are facts about bytes).
_REFUSED: OrderedDict[str, str] = OrderedDict()
_REFUSED_LOCK = threading.Lock()
_REFUSED_MAX = 64


def refused_before(digest: str) -> str | None:
    """The message a file with this SHA-256 got last time, or None."""
    with _REFUSED_LOCK:
        return _REFUSED.get(digest)


def _remember_refusal(digest: str, message: str) -> None:
    with _REFUSED_LOCK:
        _REFUSED[digest] = message
        _REFUSED.move_to_end(digest)
        while len(_REFUSED) > _REFUSED_MAX:
            _REFUSED.popitem(last=False)


def load_state_dict_bytes(
    data: bytes, name: str = "The uploaded file", *, digest: str | None = None
) -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """An uploaded file → checked state_dict + its description (keyed by its SHA-256).

    A file refused once is refused again from the digest alone, without parsing it.
    """
    digest = digest or hashlib.sha256(data).hexdigest()
    known = refused_before(digest)
    if known is not None:
        raise WeightsError(known)
    try:
        state, notes = check_state_dict(read_state_dict(data, name), name)
    except WeightsError as err:
        _remember_refusal(digest, str(err))
        raise
    verified = is_verified(digest)
    label = f"uploaded file, SHA-256 {digest[:8]}…"
    return state, WeightsInfo("upload", label, True, f"upload-{digest[:16]}", tuple(notes), digest, verified)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state_dict_file(path: Path | str, kind: str = "file") -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """A local file → checked state_dict + its description (path+mtime-keyed). Only the file name is shown."""
    path = Path(path).expanduser()
    memo = f"file:{path.resolve()}:{path.stat().st_mtime_ns if path.exists() else 0}"
    known = refused_before(memo)  # a bad local file is read once per version, not on every rerun
    if known is not None:
        raise WeightsError(known)
    try:
        state, notes = check_state_dict(read_state_dict(path), f"“{path.name}”")
    except WeightsError as err:
        _remember_refusal(memo, str(err))
        raise
    digest = file_sha256(path)
    label = {"env": f"${ENV_VAR} ({path.name})", "hub-cache": f"torch hub cache ({path.name})"}.get(kind, path.name)
    key = f"{kind}-{path.resolve()}-{path.stat().st_mtime_ns}"
    return state, WeightsInfo(kind, label, True, key, tuple(notes), digest, is_verified(digest))


#: A model whose mean normalised entropy on the sample photos is above this predicts near-uniformly.
UNTRAINED_ENTROPY = 0.9


def prediction_entropy(model: nn.Module, images: Iterable[torch.Tensor]) -> float:
    """Mean normalised entropy H(p)/log(1000) of the model's softmax over preprocessed images (1, 3, H, W).

    1 = perfectly uniform over the 1000 classes. Trained GoogLeNet on a photo
    of an ImageNet object is far below 0.5; torchvision's default random init
    (std 0.01, collapsed activations) gives ≈ 1.
    """
    values = []
    with torch.inference_mode():
        for X in images:
            p = torch.softmax(model(X).float(), dim=1)[0]
            h = -(p * p.clamp_min(1e-30).log()).sum()
            values.append(float(h / torch.log(torch.tensor(float(p.numel())))))
    return sum(values) / len(values) if values else 0.0


def looks_untrained(model: nn.Module, images: Iterable[torch.Tensor]) -> bool:
    """Near-uniform predictions on the sample photos: "these weights look untrained"."""
    return prediction_entropy(model, images) > UNTRAINED_ENTROPY


def assess(info: WeightsInfo, model: nn.Module, images: Iterable[torch.Tensor]) -> WeightsInfo:
    """``info`` with ``untrained_look`` set from the model's predictions on ``images`` (loaded weights only)."""
    if not info.pretrained:
        return info
    return replace(info, untrained_look=looks_untrained(model, images))


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
            f"into torch's hub cache (~/.cache/torch/hub/checkpoints/) or point ${ENV_VAR} at it, or upload it "
            f"below (up to {MAX_MB} MB)."
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
