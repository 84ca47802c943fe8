"""GoogLeNet on a photo: preprocessing, inspection, knock-out, Grad-CAM, feature visualisation, snippet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lab import featurevis as FV
from lab import gradcam as G
from lab import inception as I
from lab import inception_image as II
from lab.codegen import run_snippet
from lab.images import load_sample
from lab.weights import categories


def _hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def model():
    return I.build_googlenet(seed=0)


@pytest.fixture(scope="module")
def cat():
    return load_sample("cat").image


@pytest.fixture(scope="module")
def pre(cat):
    return II.preprocess(cat)


def test_preprocessing_by_hand_equals_torchvision_preset(cat):
    for image in (cat, cat.rotate(90, expand=True), cat.resize((300, 250))):
        pre = II.preprocess(image)
        torch.testing.assert_close(pre.X, II.torchvision_preprocess(image), rtol=0, atol=0)
        assert pre.crop.shape == (224, 224, 3) and min(pre.resized.shape[:2]) == 256


def test_inspect_top5_maps_and_energy(model, pre):
    names = categories()
    with torch.inference_mode():
        logits = model(pre.X)
    probs = torch.softmax(logits, 1)[0]
    r = II.inspect(model, pre.X, names, layer="inception4c", branch="branch2", stage="post", k=8)
    assert [p.index for p in r.top] == probs.topk(5).indices.tolist()
    assert r.top[0].name == names[r.top[0].index]
    assert r.maps.shape == (8, 14, 14) and (r.maps >= 0).all()
    assert list(r.channel_energy) == sorted(r.channel_energy, reverse=True)
    assert r.concat_channels == [c + 128 for c in r.channels]  # branch2 starts after branch1's 128 channels
    for block in I.BLOCKS:
        assert r.energy[block].sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(r.widths["inception3a"], np.array([64, 128, 32, 32]) / 256)
    assert r.field.size == 171 and r.field.jump == 16
    pre_r = II.inspect(model, pre.X, names, layer="inception4c", branch="branch2", stage="pre", k=8)
    assert (pre_r.maps < 0).any()
    assert _hooks(model) == 0 and not model.training


def test_inspect_conv_layer_and_whole_block(model, pre):
    names = categories()
    r = II.inspect(model, pre.X, names, layer="conv1", k=4)
    assert r.maps.shape == (4, 112, 112) and r.field.size == 7
    r = II.inspect(model, pre.X, names, layer="inception5b", branch="all", stage="pre", k=4)
    assert r.maps.shape == (4, 7, 7)
    with pytest.raises(ValueError):
        II.inspect(model, pre.X, names, layer="conv2", branch="branch1")


def test_knock_out_changes_predictions_without_touching_the_model(model, pre):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ko = II.knock_out(model, pre.X, categories(), "inception4c", "branch2")
    assert ko.kl > 0 and ko.top1_prob_after != ko.top1_prob_before
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert _hooks(model) == 0


def test_grad_cam_equals_the_hook_version_and_leaves_the_model_alone(model, pre):
    import copy

    r = G.grad_cam(model, pre.X, layer="inception5b")
    reference = G.grad_cam_hooks(copy.deepcopy(model), pre.X, layer="inception5b")
    np.testing.assert_allclose(r.cam, reference, atol=1e-5)
    assert r.coarse.shape == (7, 7) and r.cam.shape == (224, 224)
    assert r.cam.max() == pytest.approx(1.0) and r.cam.min() >= 0
    assert all(p.grad is None for p in model.parameters())
    assert _hooks(model) == 0 and not model.training
    with torch.inference_mode():
        top = int(model(pre.X).argmax())
    assert r.class_index == top
    r3 = G.grad_cam(model, pre.X, layer="inception3a", class_index=5)
    assert r3.coarse.shape == (28, 28) and r3.class_index == 5


def test_feature_visualisation_raises_the_activation_and_can_stop(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = FV.FeatureVisConfig(layer="inception3a", channel=3, fv_steps=8, fv_size=64, fv_lr=0.05, fv_jitter=4)
    result = FV.visualise_channel(model, cfg)
    act = result.history.metrics["activation"]
    assert result.history.ok and len(act) == 8 and act[-1] > act[0]
    assert result.image.shape == (64, 64, 3) and result.image.dtype == np.uint8
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    calls = []
    stopped = FV.visualise_channel(model, cfg, should_stop=lambda: len(calls) > 2 or calls.append(1))
    assert stopped.history.status == "cancelled" and stopped.history.completed_steps == 3
    again = FV.visualise_channel(model, cfg)
    np.testing.assert_array_equal(again.image, result.image)  # same seed, same picture


def test_receptive_field_drawing_and_overlay(pre):
    f = I.receptive_fields(I.meta_googlenet(aux_logits=False))["inception4c"]
    drawn = II.draw_field(pre.crop, f, 0, 0)
    assert drawn.shape == pre.crop.shape and not np.array_equal(drawn, pre.crop)
    top, left, bottom, right = f.box(7, 7, 224, 224)
    assert (top, left, bottom, right) == (41, 41, 211, 211)  # centre 14 + 7·16 = 126, ± 85 px
    assert f.box(0, 0, 224, 224)[2] == 14 + 85
    over = II.overlay(pre.crop, np.random.default_rng(0).random((14, 14)), alpha=0.5)
    assert over.shape == (224, 224, 3) and over.dtype == np.uint8


def test_the_code_snippet_reproduces_the_lab(model, cat, pre):
    ns = run_snippet(II.snippet("inception4c", 0), image=cat)
    r = II.inspect(model, pre.X, categories(), layer="inception4c")
    assert ns["top5"].indices.tolist() == [p.index for p in r.top]
    with torch.inference_mode():
        _, acts = I.run_network(model, pre.X, I.Capture(branches=("inception4c",)))
    for b in I.BRANCHES:
        torch.testing.assert_close(ns["out"][b], acts[f"inception4c.{b}"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_and_returns_cpu_results(pre):
    gpu = I.build_googlenet(seed=0, device="cuda")
    r = II.inspect(gpu, pre.X, categories(), layer="inception4c", device="cuda")
    cpu = II.inspect(I.build_googlenet(seed=0), pre.X, categories(), layer="inception4c")
    assert isinstance(r.maps, np.ndarray)
    assert [p.index for p in r.top][:3] == [p.index for p in cpu.top][:3]
    cam = G.grad_cam(gpu, pre.X, device="cuda")
    assert isinstance(cam.cam, np.ndarray)
