"""Loading GoogLeNet weights safely (lab.weights): state_dict checks, refusals, sources. Never downloads."""

from __future__ import annotations

import io
import pickle
import urllib.error
from pathlib import Path

import pytest
import torch

from lab import inception as I
from lab import weights as W


@pytest.fixture(scope="module")
def good_state():
    return I.build_googlenet(seed=1, aux_logits=True).state_dict()


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class _Evil:
    """Unpickling this would create a file (it would run code) — weights_only must refuse it."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch, while refusing it
def test_a_pickle_carrying_code_is_refused_and_nothing_runs(tmp_path):
    target = tmp_path / "pwned.txt"
    payload = _bytes({"conv1.conv.weight": torch.zeros(1), "evil": _Evil(target)})
    # sanity: a plain unpickler really would run it
    with pytest.raises(W.WeightsError, match="refused"):
        W.read_state_dict(payload, "evil.pth")
    assert not target.exists()
    raw = pickle.dumps(_Evil(target))
    with pytest.raises(W.WeightsError):
        W.read_state_dict(raw, "evil.pkl")
    assert not target.exists()
    pickle.loads(raw)  # the control: an ordinary unpickle executes the payload
    assert target.exists()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n not weights", "not a PyTorch weights file"),
        (_bytes(torch.zeros(3)), "not a state_dict"),
        (_bytes([torch.zeros(3)]), "not a state_dict"),
        (_bytes({"a": 1}), "values must all be tensors"),
        (_bytes({"fc.weight": torch.zeros(1000, 1024)}), "missing key"),
    ],
)
def test_files_that_are_not_googlenet_state_dicts_are_refused(payload, match):
    with pytest.raises(W.WeightsError, match=match):
        W.check_state_dict(W.read_state_dict(payload, "x.pth"), "x.pth")


def test_truncated_file_is_refused(good_state):
    data = _bytes(good_state)
    with pytest.raises(W.WeightsError):
        W.load_state_dict_bytes(data[: len(data) // 2], "cut.pth")


def test_wrong_shapes_and_extra_keys_are_refused(good_state):
    bad = dict(good_state)
    bad["fc.weight"] = torch.zeros(10, 1024)
    with pytest.raises(W.WeightsError, match=r"shape mismatch.*fc\.weight"):
        W.check_state_dict(bad)
    extra = {**good_state, "head.weight": torch.zeros(2)}
    with pytest.raises(W.WeightsError, match="unexpected key"):
        W.check_state_dict(extra)
    nan = dict(good_state)
    nan["fc.bias"] = torch.full((1000,), float("nan"))
    with pytest.raises(W.WeightsError, match="NaN"):
        W.check_state_dict(nan)


def test_good_weights_load_with_or_without_aux_and_prefix(good_state):
    X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    from torchvision.models import googlenet

    reference = googlenet(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    reference.load_state_dict(good_state)  # strict: the file as torchvision itself would load it
    reference.eval()
    with torch.inference_mode():
        expected = reference(X)
    variants = {
        "with aux": good_state,
        "without aux": {k: v for k, v in good_state.items() if not k.startswith("aux")},
        "DataParallel": {f"module.{k}": v for k, v in good_state.items()},
        "wrapped": {"state_dict": good_state, "epoch": 3},
        "old BN": {k: v for k, v in good_state.items() if not k.endswith("num_batches_tracked")},
    }
    for name, state in variants.items():
        loaded, info = W.load_state_dict_bytes(_bytes(state), f"{name}.pth")
        assert info.pretrained and info.kind == "upload" and info.key.startswith("upload-")
        model = W.model_from_state_dict(loaded)
        assert not model.training and model.transform_input
        with torch.inference_mode():
            torch.testing.assert_close(model(X), expected, msg=name)


def test_expected_keys_cover_the_architecture():
    shapes = W.expected_shapes()
    assert shapes["conv1.conv.weight"] == (64, 3, 7, 7)
    assert shapes["inception3a.branch3.1.conv.weight"] == (32, 16, 3, 3)  # the "5×5" that is 3×3
    assert any(k.startswith("aux1.") for k in shapes)


def test_sources_env_var_then_hub_cache(tmp_path, monkeypatch, good_state):
    monkeypatch.delenv(W.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert W.find_weights() is None
    cached = W.hub_cache_path()
    cached.parent.mkdir(parents=True)
    torch.save(good_state, cached)
    assert W.find_weights() == (cached, "hub-cache")
    _state, info = W.load_state_dict_file(cached, "hub-cache")
    # the file has torchvision's name but not its bytes: never called ImageNet or verified
    assert "ImageNet" not in info.label and "aux" in " ".join(info.notes)
    assert not info.verified and info.status == "custom weights, loaded"
    local = tmp_path / "mine.pth"
    torch.save(good_state, local)
    monkeypatch.setenv(W.ENV_VAR, str(local))
    assert W.find_weights() == (local, "env")
    with pytest.raises(W.WeightsError, match="does not exist"):
        W.read_state_dict(tmp_path / "missing.pth")


def test_download_failure_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(W.WeightsError, match=r"Could not download.*upload"):
        W.download_weights()
    assert not W.hub_cache_path().exists()


def test_categories_are_available_offline():
    names = W.categories()
    assert len(names) == 1000 and names[281] == "tabby" and names[0] == "tench"


def test_verified_only_when_the_sha256_has_torchvisions_prefix(good_state, monkeypatch):
    import hashlib

    data = _bytes(good_state)
    digest = hashlib.sha256(data).hexdigest()
    _state, info = W.load_state_dict_bytes(data)
    assert not info.verified and info.status == "custom weights, loaded" and info.sha256 == digest
    assert "ImageNet" not in info.label
    monkeypatch.setattr(W, "HASH_PREFIX", digest[:8])  # as if this were googlenet-<digest[:8]>.pth
    _state, info = W.load_state_dict_bytes(data)
    assert info.verified and info.status == "verified ImageNet weights"


def test_real_prefix_rule_is_torchvisions():
    monkey_free = W.HASH_PREFIX
    assert monkey_free == "1378be20" and W.WEIGHTS_FILE == "googlenet-1378be20.pth"
    assert W.is_verified("1378be20" + "ab" * 28) and not W.is_verified("1378be21" + "ab" * 28)


def test_near_uniform_predictions_look_untrained():
    """torchvision's own random init (std 0.01) predicts ~uniformly; a peaked classifier does not."""
    from torchvision.models import googlenet

    gen = torch.Generator().manual_seed(0)
    images = [torch.randn(1, 3, 64, 64, generator=gen) for _ in range(2)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        random = googlenet(weights=None, aux_logits=False, init_weights=True, transform_input=True).eval()
    assert W.prediction_entropy(random, images) > 0.99
    info = W.assess(W.WeightsInfo("upload", "uploaded file", True, "k"), random, images)
    assert info.untrained_look and info.status.endswith("these weights look untrained") and not info.trustworthy
    peaked = W.model_from_state_dict({k: v.clone() for k, v in random.state_dict().items()})
    with torch.no_grad():
        peaked.fc.bias[281] = 50.0  # a decisive classifier (what training produces on a clear photo)
    assert W.prediction_entropy(peaked, images) < 0.1
    assert not W.assess(W.WeightsInfo("upload", "uploaded file", True, "k"), peaked, images).untrained_look
    untrained = W.untrained_info(0)
    assert W.assess(untrained, random, images) is untrained and not untrained.trustworthy


def test_real_googlenet_weights_fit_every_limit_on_the_way_in(good_state):
    """torchvision's file (49.7 MiB with aux heads) must pass the server's cap, the widget's and the zip checks.

    Locally and on a public server (deploy/streamlit-hosting.toml): the issue asks for per-purpose limits,
    photos small, weights large enough for the real file. A server with a lower cap gets no weights
    uploader (tests/test_page_inception.py checks it) instead of a widget whose files it would refuse.
    """
    import tomllib

    root = Path(__file__).resolve().parent.parent
    local = tomllib.loads((root / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    hosting = tomllib.loads((root / "deploy" / "streamlit-hosting.toml").read_text())["server"]["maxUploadSize"]
    data = _bytes(good_state)  # same layout and size as googlenet-1378be20.pth (fp32, aux heads included)
    assert 45 * 2**20 < len(data) <= W.MAX_BYTES
    assert W.upload_allowed(local) and local >= W.MAX_MB  # the server refuses anything above its own cap
    for cap in (local, hosting):  # the uploader is offered, and the server takes what it promises
        assert W.upload_allowed(cap) and cap * 2**20 >= W.MAX_BYTES > len(data)
    assert not W.upload_allowed(20)  # a server capped for photos only shows no weights uploader
    W.inspect_archive(data)  # members stored, total under MAX_UNCOMPRESSED, names torch.save's
    loaded, info = W.load_state_dict_bytes(data)
    assert info.pretrained and len(loaded) > 300
