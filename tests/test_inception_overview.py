"""The whole-network overview (lab.inception_overview) and the partial feature-visualisation preview."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from lab import featurevis as FV
from lab import inception as I
from lab import inception_overview as OV


@pytest.fixture(scope="module")
def model():
    return I.build_googlenet(seed=0)


def test_every_stage_with_its_real_shape_and_blocks_as_four_branches(model):
    X = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    crop = np.zeros((224, 224, 3), np.uint8)
    names = [f"class {i}" for i in range(1000)]
    ov = OV.overview(model, X, crop, names)
    with torch.inference_mode():
        logits, acts = I.run_network(model, X, I.Capture(layers=I.SEQUENCE))
    assert [s.name for s in ov.stages] == ["input", *[n for n in I.SEQUENCE if n != "dropout"]]
    for stage in ov.stages[1:]:
        assert stage.shape == tuple(acts[stage.name].shape[1:]), stage.name
        if stage.name in I.BLOCKS:
            assert [t.target for t in stage.thumbs] == [f"{stage.name}.{b}" for b in I.BRANCHES]
    assert ov.targets == [t.target for s in ov.stages for t in s.thumbs]
    top = int(logits.argmax())
    assert ov.stages[-1].note.startswith(f"class {top} ")
    png = Image.open(io.BytesIO(ov.stages[1].thumbs[0].png))
    assert png.size == (OV.THUMB, OV.THUMB)
    # thumbnails of a plain layer are its strongest channels, strongest first
    energy = acts["conv2"][0].pow(2).mean(dim=(1, 2))
    conv2 = next(s for s in ov.stages if s.name == "conv2")
    assert [t.label for t in conv2.thumbs] == [f"ch {int(c)}" for c in energy.argsort(descending=True)[:3]]
    assert not any(m._forward_hooks for m in model.modules())

    fig = OV.overview_figure(ov, selected="inception4c")
    assert len(fig.data) == 1 and len(fig.data[0].x) == len(ov.targets) == len(fig.layout.images)
    outlined = [s for s in fig.layout.shapes if s.line.color == "#d6336c"]
    assert len(outlined) == 4  # the whole block: its four branches


def test_a_stopped_feature_visualisation_leaves_a_preview_marked_partial(model):
    cfg = FV.FeatureVisConfig(layer="inception3a", channel=1, fv_steps=20, fv_size=64)
    previews = []
    result = FV.visualise_channel(model, cfg, on_preview=previews.append, preview_every=5)
    assert not result.partial and result.history.completed_steps == 20
    assert [p.history.completed_steps for p in previews] == [5, 10, 15]
    assert all(p.partial and p.image.shape == (64, 64, 3) for p in previews)
    assert len(previews[0].history.metrics["activation"]) < len(result.history.metrics["activation"])
