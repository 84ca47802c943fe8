"""Lab 5 (images): the spec table, seeded previews, truthful captions, generated code, GoogLeNet
loading from the hub cache, and augmentation as a regulariser (lab.augment_training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from lab import augment as A
from lab import augment_fast as AF
from lab import augment_training as AT
from lab.codegen import run_snippet
from lab.images import load_sample
from lab.params import from_query, to_query


@pytest.fixture(scope="module")
def cat() -> torch.Tensor:
    return A.to_tensor(load_sample("cat").image)  # (3, 300, 451)


def _images(cat: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "rgb": cat,
        "gray": TF.rgb_to_grayscale(cat),  # (1, H, W)
        "odd": cat[:, 37:74, 101:124].contiguous(),  # (3, 37, 23): odd, tiny, portrait
        "odd-gray": TF.rgb_to_grayscale(cat[:, :51, :77]).contiguous(),  # (1, 51, 77)
    }


def assert_within_one_grey_level(a: torch.Tensor, b: torch.Tensor) -> None:
    """uint8 images equal up to 1 grey level (the fast hue and blur kernels round differently, ~1e-7)."""
    assert a.shape == b.shape and a.dtype == b.dtype == torch.uint8
    diff = (a.int() - b.int()).abs()
    assert int(diff.max()) <= 1, int(diff.max())
    assert float((diff > 0).float().mean()) < 0.01  # a few pixels, not a shifted image


#: Every probability at 1 so every transform actually fires.
ALWAYS = {p.name: 1.0 for t in A.TRANSFORMS for p in t.params if p.name.endswith("_p")}


# --- the spec table -------------------------------------------------------------------------------


def test_spec_table_covers_the_issue():
    classes = {t.v2_class for t in A.TRANSFORMS}
    for name in [
        "RandomRotation",
        "RandomResizedCrop",
        "RandomHorizontalFlip",
        "RandomVerticalFlip",
        "RandomAffine",
        "RandomPerspective",
        "ElasticTransform",
        "ColorJitter",
        "RandomGrayscale",
        "GaussianBlur",
        "GaussianNoise",
        "RandomErasing",
        "RandomPosterize",
        "RandomSolarize",
        "RandomEqualize",
        "AutoAugment",
        "RandAugment",
        "TrivialAugmentWide",
        "AugMix",
    ]:
        assert name in classes, name
        assert hasattr(v2, name)
    names = [p.name for p in A.all_specs()]
    assert len(names) == len(set(names)), "URL keys must be unique"
    for t in A.TRANSFORMS:
        assert t.group in A.GROUPS and t.note
        for p in t.params:
            assert p.name.startswith(t.key + "_"), p.name
            p.validate(p.default)


@pytest.mark.parametrize("kind", ["rgb", "gray", "odd", "odd-gray"])
@pytest.mark.parametrize("spec", A.TRANSFORMS, ids=lambda t: t.key)
def test_every_transform_returns_a_valid_image_of_the_declared_size(spec, kind, cat):
    image = _images(cat)[kind]
    config = A.PipelineConfig.from_values(ALWAYS, enabled=[spec.key])
    result = A.preview(image, config, num_samples=2, side=64, seed=3)
    size = A.preview_size(tuple(image.shape[-2:]), 64)
    assert result.size == size
    channels = image.shape[0]
    for sample, tensor, parts in zip(result.samples, result.tensors, result.captions, strict=True):
        assert tensor.dtype == torch.uint8 and tuple(tensor.shape) == (channels, *size)
        assert sample.shape == (size if channels == 1 else (*size, 3))
        assert len(parts) == 1 and not parts[0].startswith("no "), parts  # p = 1: it fired
    assert result.original.shape == result.samples[0].shape


def test_most_transforms_change_the_image(cat):
    unchanged = []
    for spec in A.TRANSFORMS:
        config = A.PipelineConfig.from_values(ALWAYS, enabled=[spec.key])
        result = A.preview(cat, config, num_samples=2, side=96, seed=0)
        if all(np.array_equal(s, result.original) for s in result.samples):
            unchanged.append(spec.key)
    assert unchanged == [], unchanged


def test_blur_kernel_fits_tiny_images():
    assert A._blur_kernel(10.0, (5, 40)) == 9  # reflect padding needs k // 2 < 5
    assert A._blur_kernel(2.0, (100, 100)) == 9  # ±2σ
    assert A._blur_kernel(0.1, (100, 100)) % 2 == 1


def test_blur_kernel_of_two_sigma_looks_like_the_untruncated_blur(cat):
    """±2σ (k = 9 at σ = 2) against a kernel of ±6σ: under one grey level on average, < 4 anywhere."""
    x = TF.to_dtype(TF.resize(cat, [192, 288]), torch.float32, scale=True)
    k = A._blur_kernel(2.0, (192, 288))
    ours = TF.gaussian_blur(x, [k, k], [2.0, 2.0])
    exact = TF.gaussian_blur(x, [25, 25], [2.0, 2.0])
    diff = (ours - exact).abs() * 255
    assert float(diff.mean()) < 1.0 and float(diff.max()) < 4.0
    assert (
        float((TF.gaussian_blur(x, [3, 3], [2.0, 2.0]) - exact).abs().mean() * 255) > 1.0
    )  # a short kernel would show


# --- seeding and captions ----------------------------------------------------------------------------


def test_seeded_previews_are_reproducible_and_resample_changes_them(cat):
    config = A.PipelineConfig.from_values({"blur": True, "noise": True, "erasing": True})
    a = A.preview(cat, config, num_samples=4, seed=7, draw=0)
    b = A.preview(cat, config, num_samples=4, seed=7, draw=0)
    c = A.preview(cat, config, num_samples=4, seed=7, draw=1)
    for x, y in zip(a.tensors, b.tensors, strict=True):
        assert torch.equal(x, y)
    assert a.captions == b.captions
    assert not any(torch.equal(x, y) for x, y in zip(a.tensors, c.tensors, strict=True))
    assert a.seeds == [700_000 + i for i in range(4)] and c.seeds[0] == 700_100


def test_preview_leaves_the_global_rng_alone(cat):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    A.preview(cat, A.PipelineConfig.from_values({}), num_samples=3)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("fast", [False, True])
def test_recording_the_params_does_not_change_the_samples(cat, fast):
    """The instrumented pipeline gives what a plain Compose gives under the same seeds (exactly without ``fast``)."""
    values = {**ALWAYS, "affine": True, "noise": True, "randaugment": True, "hflip_p": 0.5}
    config = A.PipelineConfig.from_values(values)
    result = A.preview(cat, config, num_samples=5, seed=2, fast=fast)
    plain = A.build_pipeline(config, result.size)
    start = A.prepare(cat, config, result.size)
    for seed, sample in zip(result.seeds, result.tensors, strict=True):
        torch.manual_seed(seed)
        if fast:
            assert_within_one_grey_level(plain(start), sample)
        else:
            assert torch.equal(plain(start), sample)


def _extremes(t: A.TransformSpec) -> list[dict]:
    """Every combination of each numeric setting's lowest and highest value (probabilities at 1)."""
    combos: list[dict] = [{}]
    for p in t.params:
        if p.kind in ("float", "int") and p.lo is not None:
            combos = [{**c, p.name: v} for c in combos for v in (p.lo, 1.0 if p.name.endswith("_p") else p.hi)]
    return combos


@pytest.mark.parametrize("t", A.TRANSFORMS, ids=lambda t: t.key)
def test_every_setting_extreme_runs_on_tiny_and_wide_photos(t):
    """The page accepts photos from 16 px a side and any aspect: no setting in range may fail on them."""
    for values in _extremes(t):
        config = A.PipelineConfig.from_values({**ALWAYS, **values}, enabled=[t.key])
        for shape in ((3, 16, 16), (3, 16, 70), (3, 300, 1200)):
            image = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
            result = A.preview(image, config, num_samples=1, side=64, seed=1)
            assert result.samples[0].shape[:2] == result.size, (values, shape)


def test_elastic_sigma_is_capped_to_fit_a_wide_preview_and_the_code_says_so():
    config = A.PipelineConfig.from_values({"elastic_sigma": 10.0}, enabled=["elastic"])
    panorama = torch.zeros(3, 300, 1200, dtype=torch.uint8)
    size = A.preview_size((300, 1200), 128)  # (32, 128): a kernel of 8σ + 1 = 81 px cannot fit 32 rows
    assert size == (32, 128)
    elastic = next(t for t in A.build_pipeline(config, size).transforms if isinstance(t, v2.ElasticTransform))
    assert elastic.sigma == [7.75, 7.75]  # (32 − 1) / 4
    code = A.pipeline_code(config, size, image_size=(300, 1200), num_samples=1, first_seed=0)
    assert "sigma=7.75" in code
    assert A.preview(panorama, config, num_samples=1, side=128).size == size


def test_perspective_caption_gives_how_far_the_corners_moved(cat):
    config = A.PipelineConfig.from_values(
        {"perspective_distortion": 1.0, "perspective_p": 1.0}, enabled=["perspective"]
    )
    result = A.preview(cat, config, num_samples=8, seed=1)
    h, w = result.size
    for caption in result.captions:
        moved = float(caption[0].split("≤")[1].split(" px")[0])
        assert 0 < moved <= max(h, w) / 2 + 1  # torchvision moves each corner by at most distortion · half the side


def test_drawn_rotation_angle_is_the_one_applied(cat):
    config = A.PipelineConfig.from_values({"rotate_deg": 40}, enabled=["rotate"])
    result = A.preview(cat, config, num_samples=4, seed=5)
    start = A.prepare(cat, config, result.size)
    angles = [d["rotate"]["angle"] for d in result.drawn]
    assert len(set(angles)) == 4 and all(-40 <= a <= 40 for a in angles)
    for angle, sample, caption in zip(angles, result.tensors, result.captions, strict=True):
        assert torch.equal(TF.rotate(start, angle), sample)
        assert f"{abs(angle):.1f}°" in caption[0]


def test_drawn_crop_box_is_the_one_applied(cat):
    config = A.PipelineConfig.from_values({}, enabled=["crop"])
    result = A.preview(cat, config, num_samples=3, seed=1)
    source = A.prepare(cat, config, result.size)  # the crop's source copy: smaller than the photo here
    assert source.shape[-2:] == A.crop_source_size(cat.shape[-2:], config, result.size) != cat.shape[-2:]
    for d, sample, caption in zip(result.drawn, result.tensors, result.captions, strict=True):
        box = d["crop"]
        expected = TF.resized_crop(
            source, box["top"], box["left"], box["height"], box["width"], list(result.size), antialias=True
        )
        assert torch.equal(expected, sample)
        share = box["height"] * box["width"] / (source.shape[1] * source.shape[2])
        assert share >= 0.5 * 0.99
        assert caption[0].startswith(f"crop {share:.0%} ({box['width'] / box['height']:.2f}:1) @")


@pytest.mark.parametrize(("scale", "ratio"), [(0.5, 1.33), (0.08, 1.0), (0.3, 2.0), (1.0, 1.0)])
def test_crop_source_never_enlarges_a_window(scale, ratio):
    """Every window the crop can draw from its source copy is at least (almost) the preview size."""
    config = A.PipelineConfig.from_values({"crop_scale": scale, "crop_ratio": ratio}, enabled=["crop"])
    photo = (3000, 4000)
    size = A.preview_size(photo, 256)
    source = A.crop_source_size(photo, config, size)
    assert source[0] <= photo[0] and source[1] <= photo[1]
    crop = A.build_pipeline(config, size).transforms[0]
    torch.manual_seed(0)
    for _ in range(300):
        params = crop.make_params([torch.empty(3, *source)])
        assert params["height"] >= size[0] - 1 and params["width"] >= size[1] - 1
    # The copy is no bigger than needed: the narrowest window allowed is within 2 px of the preview width.
    assert source[1] * math.sqrt(scale / ratio) < size[1] + 2


def test_skipped_flip_is_reported(cat):
    config = A.PipelineConfig.from_values({"hflip_p": 0.5}, enabled=["hflip"])
    result = A.preview(cat, config, num_samples=12, seed=0)
    start = A.prepare(cat, config, result.size)
    for d, sample, caption in zip(result.drawn, result.tensors, result.captions, strict=True):
        flipped = d["hflip"] is not None
        assert torch.equal(sample, TF.horizontal_flip(start) if flipped else start)
        assert caption == (["h-flip ↔"] if flipped else ["no h-flip"])
    assert 0 < sum(d["hflip"] is not None for d in result.drawn) < 12


def test_policy_captions_list_the_ops_applied(cat):
    config = A.PipelineConfig.from_values({"randaugment_ops": 3}, enabled=["randaugment"])
    result = A.preview(cat, config, num_samples=4, seed=0)
    for d in result.drawn:
        ops = d["randaugment"]
        assert len(ops) == 3 and all(name in v2.RandAugment._AUGMENTATION_SPACE for name, _ in ops)


# --- code and URL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {},  # the default pipeline: crop, rotation, h-flip, colour jitter
        {"crop": False, "affine": True, "blur": True, "noise": True, "erasing": True, "erasing_p": 1.0},
        {"crop": False, "rotate": False, "hflip": False, "jitter": False, "augmix": True, "perspective": True},
        {"crop": False, "rotate": False, "hflip": False, "jitter": False},  # nothing on: identity
    ],
    ids=["default", "float-stage", "augmix", "empty"],
)
def test_generated_code_reproduces_the_page(values, cat, tmp_path):
    """The page (fast runner) equals the generated Compose code within 1 grey level; the exact runner bit for bit."""
    path = tmp_path / "photo.png"
    Image.fromarray(cat.permute(1, 2, 0).numpy()).save(path)  # lossless: the code reads the same pixels
    config = A.PipelineConfig.from_values(values)
    result = A.preview(cat, config, num_samples=5, side=192, seed=4, draw=2)
    exact = A.preview(cat, config, num_samples=5, side=192, seed=4, draw=2, fast=False)
    source = A.pipeline_code(
        config, result.size, image_size=cat.shape[-2:], num_samples=5, first_seed=A.first_seed(4, 2), path=str(path)
    )
    assert "v2.Compose([" in source
    namespace = run_snippet(source)
    assert len(namespace["samples"]) == 5
    for ours, slow, theirs in zip(result.tensors, exact.tensors, namespace["samples"], strict=True):
        assert torch.equal(slow, theirs)
        assert_within_one_grey_level(ours, theirs)
    assert result.captions == exact.captions


def test_generated_code_float_literals_round_trip():
    assert A._py(1 / 3) == repr(1 / 3) and eval(A._py(1 / 3)) == 1 / 3
    assert A._py(v2.AutoAugmentPolicy.SVHN) == "v2.AutoAugmentPolicy.SVHN"
    assert A._py((1.0,)) == "(1.0,)" and A._py(torch.uint8) == "torch.uint8"


def test_pipeline_settings_round_trip_through_the_url():
    specs = A.all_specs()
    values = {**A.default_values(), "rotate_deg": 45, "elastic": True, "elastic_alpha": 120.0, "autoaugment": True}
    values["autoaugment_policy"] = "svhn"
    query = to_query(specs, values)
    assert query["rotate_deg"] == "45" and "hflip" not in query  # defaults are left out
    back, problems = from_query(specs, query)
    assert problems == []
    assert A.PipelineConfig.from_values(back) == A.PipelineConfig.from_values(values)


def test_bad_url_values_fall_back_to_defaults():
    values, problems = from_query(A.all_specs(), {"rotate_deg": "9000", "autoaugment_policy": "mnist"})
    assert values["rotate_deg"] == 15 and values["autoaugment_policy"] == "imagenet"
    assert len(problems) == 2


# --- does the label survive? --------------------------------------------------------------------------


def test_googlenet_absent_from_hub_cache_is_reported_not_downloaded(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert A.googlenet_checkpoint().parent == tmp_path / "checkpoints"
    assert not A.googlenet_available()
    assert A.load_googlenet() is None


def test_googlenet_loads_from_hub_cache_and_labels_samples(tmp_path, monkeypatch, cat):
    """A checkpoint with torchvision's layout in the cache loads (weights_only) without network."""
    from torchvision.models import googlenet

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    torch.manual_seed(0)
    reference = googlenet(weights=None, aux_logits=True, init_weights=True, transform_input=True).eval()
    path = A.googlenet_checkpoint()
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    assert A.googlenet_available()
    model = A.load_googlenet()
    assert model is not None and not model.training and model.aux1 is None
    expected = reference.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name
    images = [cat, TF.rgb_to_grayscale(cat)]
    labels = A.top1(model, images)
    assert len(labels) == 2 and all(0 <= lab.index < 1000 and 0 < lab.prob <= 1 for lab in labels)
    from torchvision.models import GoogLeNet_Weights

    assert labels[0].name == GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"][labels[0].index]
    with torch.inference_mode():
        batch = torch.stack([GoogLeNet_Weights.IMAGENET1K_V1.transforms()(cat)])
        assert int(reference(batch).argmax()) == labels[0].index


# --- augmentation as a regulariser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("angle", "translate", "scale"), [(30.0, (0.0, 0.0), 1.0), (-20.0, (1.5, -1.0), 0.8), (0.0, (2.0, 1.0), 1.3)]
)
def test_batched_affine_matches_torchvision(angle, translate, scale):
    """By hand (one grid_sample for the batch) vs v2.functional.affine (one image at a time)."""
    X = torch.rand(3, 2, 12, 17)  # non-square on purpose
    angles = torch.tensor([angle, 0.0, -angle])
    shifts = torch.tensor([translate, (0.0, 0.0), translate])
    scales = torch.tensor([scale, 1.0, 1.0 / scale])
    ours = AT.affine_batch(X, angles, shifts, scales)
    for i in range(3):
        ref = TF.affine(
            X[i],
            angle=float(angles[i]),
            translate=[float(t) for t in shifts[i]],
            scale=float(scales[i]),
            shear=[0.0, 0.0],
            interpolation=v2.InterpolationMode.BILINEAR,
        )
        torch.testing.assert_close(ours[i], ref, atol=1e-5, rtol=0)


def test_digits_split_is_stratified_and_disjoint():
    X, y, Xv, yv = AT.load_digits_split(100, seed=0)
    assert X.shape == (100, 1, 16, 16) and Xv.shape == (AT.VAL_SIZE, 1, 16, 16) and len(yv) == AT.VAL_SIZE
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10
    assert float(X.min()) >= 0.0 and float(X.max()) <= 1.0
    flat = {tuple(x.flatten().tolist()) for x in X}
    assert not any(tuple(x.flatten().tolist()) in flat for x in Xv[:200])


def test_augment_batch_keeps_shapes_and_range():
    X, *_ = AT.load_digits_split(50)
    out = AT.augment_batch(X, AT.TrainConfig(tr_hflip=True), torch.Generator().manual_seed(0))
    assert out.shape == X.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert not torch.equal(out, X)
    same = AT.augment_batch(X, AT.TrainConfig(tr_rotate=0, tr_shift=0.0, tr_zoom=0.0, tr_noise=0.0), torch.Generator())
    torch.testing.assert_close(same, X, atol=1e-5, rtol=0)  # identity parameters leave digits alone


def test_training_comparison_is_seeded_and_differs_only_by_augmentation():
    config = AT.TrainConfig(tr_train_size=50, tr_epochs=3)
    a = AT.compare(config)
    b = AT.compare(config)
    assert a.plain.metrics == b.plain.metrics and a.augmented.metrics == b.augmented.metrics
    assert a.plain.ok and a.augmented.ok and len(a.plain.metrics["val_acc"]) == 3
    assert a.plain.metrics != a.augmented.metrics
    assert np.isfinite(a.gain) and -1 <= a.gain <= 1
    fig = AT.comparison_figure(a)
    assert fig.layout.title.text and fig.layout.xaxis.title.text == "epoch" and len(fig.data) == 4


# --- the fast runner (lab.augment_fast) against torchvision -----------------------------------------------


@pytest.mark.parametrize("hue", [0.0, 0.03, -0.05, 0.25, -0.4, 0.5])
def test_fast_hue_matches_torchvision(hue, cat):
    x = TF.to_dtype(cat[:, :64, :80], torch.float32, scale=True)
    x[:, :4, :4] = 0.5  # grey: no hue at all
    x[:, 4:8, :4] = torch.tensor([1.0, 1.0, 0.0]).view(3, 1, 1)  # a tie between two channels
    torch.testing.assert_close(AF.adjust_hue(x, hue), TF.adjust_hue(x, hue), atol=1e-5, rtol=0)


@pytest.mark.parametrize("sigma", [0.1, 0.8, 2.0, 4.0])
def test_fast_blur_matches_torchvision(sigma, cat):
    x = TF.to_dtype(cat[:, :40, :57], torch.float32, scale=True)  # odd-sized
    for k in (1, 3, 9, 17):
        ref = TF.gaussian_blur(x, [k, k], [sigma, sigma])
        torch.testing.assert_close(AF.gaussian_blur(x, [k, k], [sigma, sigma]), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize(
    "values",
    [
        {"blur": True, "noise": True},  # the bench's pipeline
        {**ALWAYS, "crop": False, "vflip": True, "grayscale": True, "blur": True, "posterize": True},
        {**ALWAYS, "affine": True, "perspective": True, "elastic": True, "erasing": True, "trivialaugment": True},
        {"jitter_hue": 0.5, "jitter_saturation": 1.0, "blur": True, "blur_sigma": 6.0, "solarize": True},
    ],
    ids=["bench", "colour", "geometry-policy", "extreme"],
)
def test_fast_preview_matches_the_exact_one(values, seed, cat):
    """Same draws (captions, raw params), images within 1 grey level; bit-identical without hue and blur."""
    config = A.PipelineConfig.from_values(values)
    fast = A.preview(cat, config, num_samples=4, side=128, seed=seed)
    exact = A.preview(cat, config, num_samples=4, side=128, seed=seed, fast=False)
    assert fast.captions == exact.captions
    for a, b in zip(fast.tensors, exact.tensors, strict=True):
        assert_within_one_grey_level(a, b)
    if not {"jitter", "blur"} & set(config.enabled):
        assert all(torch.equal(a, b) for a, b in zip(fast.tensors, exact.tensors, strict=True))


def test_fast_preview_without_hue_or_blur_is_bit_identical(cat):
    values = {**ALWAYS, "jitter_hue": 0.0, "vflip": True, "affine": True, "noise": True, "erasing": True}
    config = A.PipelineConfig.from_values(values)
    fast = A.preview(cat, config, num_samples=4, side=128, seed=3)
    exact = A.preview(cat, config, num_samples=4, side=128, seed=3, fast=False)
    assert all(torch.equal(a, b) for a, b in zip(fast.tensors, exact.tensors, strict=True))


@pytest.mark.parametrize(
    ("values", "as_float"),
    [
        ({**ALWAYS, "blur": True, "noise": True, "grayscale": True}, False),
        ({**ALWAYS, "crop": False, "blur": True, "noise": True}, False),
        # A float photo: the first ToDtype hands it on unchanged, so the jitter must not work in place.
        ({"crop": False, "rotate": False, "hflip": False, "noise": True}, True),
    ],
    ids=["crop", "no-crop", "float-input"],
)
def test_fast_runner_never_writes_into_the_callers_image(values, as_float, cat):
    """Its kernels work in place only on tensors the run made; the photo passed in stays as it was."""
    config = A.PipelineConfig.from_values(values)
    size = A.preview_size(tuple(cat.shape[-2:]), 96)
    start = A.prepare(cat, config, size)
    if as_float:
        start = TF.to_dtype(start, torch.float32, scale=True)
    kept = start.clone()
    transforms = A.build_pipeline(config, size).transforms
    torch.manual_seed(0)
    out = AF.run(transforms, start)
    assert torch.equal(start, kept) and out.untyped_storage().data_ptr() != start.untyped_storage().data_ptr()
    torch.manual_seed(0)
    assert_within_one_grey_level(out, v2.Compose(transforms)(start))


def test_fast_dtype_conversions_are_bit_identical():
    x = torch.randint(0, 256, (3, 19, 31), dtype=torch.uint8)
    to_float, to_uint8 = v2.ToDtype(torch.float32, scale=True), v2.ToDtype(torch.uint8, scale=True)
    as_float = AF._to_dtype(to_float, x, {}, False)
    assert as_float.dtype == torch.float32 and torch.equal(as_float, to_float(x))
    y = torch.rand(3, 19, 31)
    assert torch.equal(AF._to_dtype(to_uint8, y.clone(), {}, True), to_uint8(y))


def test_fast_rotation_is_bit_identical_to_torchvision():
    """Nearest + fill 0: the ones-mask channel torchvision adds changes nothing, so one grid_sample is exact."""
    x = torch.rand(3, 37, 53)  # odd, non-square
    t = v2.RandomRotation(180)
    angles = [0.0, 90.0, -90.0, 180.0, 45.0, 359.9, *torch.empty(40).uniform_(-180, 180).tolist()]
    for angle in angles:
        assert torch.equal(AF._rotate(t, x, {"angle": angle}, False), t.transform(x, {"angle": angle})), angle


def test_fast_noise_is_bit_identical_to_torchvision():
    x = torch.rand(3, 21, 34)
    for t in (v2.GaussianNoise(sigma=0.05), v2.GaussianNoise(mean=0.1, sigma=0.3, clip=False)):
        torch.manual_seed(0)
        ours = AF._noise(t, x, {}, False)
        torch.manual_seed(0)
        assert torch.equal(ours, t.transform(x, {}))


def test_policy_captions_list_the_first_ops_then_count_the_rest():
    ops = [("Rotate", 3.0), ("Equalize", 0.0), ("Posterize", 4.0), ("Shear", 0.1), ("Solarize", 0.5), ("Color", 0.2)]
    assert A._describe_ops(ops) == "Rotate +3.00, Equalize, Posterize +4.00, Shear +0.10 … +2 more"
    assert A._describe_ops(ops[:2]) == "Rotate +3.00, Equalize" and A._describe_ops([]) == "identity"


def test_affine_note_qualifies_the_label_at_its_extremes():
    """The label does not always stay: the note names the slider maxima where it may not (issue 14)."""
    affine = A.TRANSFORMS_BY_KEY["affine"]
    highs = {p.name: p.hi for p in affine.params}
    note = affine.note
    assert f"{highs['affine_translate']:g}" in note and f"{highs['affine_shear']:g}°" in note
    assert "may" in note and "the object moves, the label stays." not in note  # the old, unqualified claim
