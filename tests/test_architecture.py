"""lab.architecture: the calculator vs a real nn.Sequential, flop_counter and gradients; the quiz."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lab import architecture as arch
from lab.architecture import Layer

STACKS = {
    "lecture": ((3, 100, 100), arch.LECTURE_STACK),
    "strided": ((3, 64, 48), (Layer("conv", 3, 2, 1, 8), Layer("mean pool", 3, 2), Layer("conv", 5, 1, 2, 4))),
    "deep": (
        (1, 40, 40),
        (
            Layer("conv", 3, 1, 1, 4),
            Layer("max pool", 2, 2),
            Layer("conv", 3, 1, 0, 6),
            Layer("max pool", 3, 1),
            Layer("conv", 1, 1, 0, 2),
        ),
    ),
}


@pytest.mark.parametrize("name", STACKS)
def test_shapes_and_params_equal_a_real_sequential(name):
    shape, layers = STACKS[name]
    analysis = arch.analyse(shape, layers)
    assert analysis.problem is None
    model = arch.build_sequential(shape[0], layers)
    Y = torch.zeros(1, *shape)
    with torch.no_grad():
        for module, row in zip(model, analysis.rows, strict=True):
            Y = module(Y)
            assert tuple(Y.shape[1:]) == row.out_shape
            assert sum(p.numel() for p in module.parameters()) == row.params
    assert analysis.total_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", STACKS)
def test_multiply_adds_equal_torch_flop_counter(name):
    shape, layers = STACKS[name]
    analysis = arch.analyse(shape, layers)
    model = arch.build_sequential(shape[0], layers)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    assert counter.get_total_flops() == 2 * analysis.total_macs  # one MAC = 2 FLOPs


@pytest.mark.parametrize("name", STACKS)
def test_receptive_fields_match_gradients(name):
    shape, layers = STACKS[name]
    analysis = arch.analyse(shape, layers)
    for row in analysis.rows:
        rows, cols = arch.receptive_field_by_gradient(shape, layers, row.index)
        if name != "strided":  # no padding: the centre cell's field lies inside the image
            assert (rows, cols) == (row.receptive_field, row.receptive_field), row
        else:  # with padding the field may be cut by the border, never larger
            assert rows <= row.receptive_field and cols <= row.receptive_field


def test_lecture_quiz_answers():
    analysis = arch.analyse(arch.LECTURE_INPUT, arch.LECTURE_STACK)
    shapes = [r.out_shape for r in analysis.rows]
    assert shapes == [(100, 96, 96), (100, 48, 48), (100, 44, 44), (100, 22, 22)]
    assert [r.receptive_field for r in analysis.rows] == [5, 6, 14, 16]
    assert [r.params for r in analysis.rows] == [100 * (3 * 25 + 1), 0, 100 * (100 * 25 + 1), 0]
    assert analysis.heaviest().index == 3 and analysis.most_params().index == 3
    answers = arch.quiz(analysis)
    assert len(answers) == 4
    assert answers[0].answer == "100×22×22"
    assert answers[1].answer.startswith("14×14 = 196 pixels")
    assert "484,000,000" in answers[2].answer and "250,100" in answers[3].answer


def test_impossible_stack_is_explained():
    layers = (Layer("conv", 5, 1, 0, 8), Layer("max pool", 2, 2), Layer("conv", 5, 1, 0, 8))
    analysis = arch.analyse((3, 10, 10), layers)
    assert len(analysis.rows) == 2 and analysis.problem is not None
    assert "Layer 3" in analysis.problem and "3×3" in analysis.problem
    with pytest.raises(RuntimeError):  # PyTorch agrees
        arch.build_sequential(3, layers)(torch.zeros(1, 3, 10, 10))


def test_stack_text_round_trip_and_errors():
    for _, layers in STACKS.values():
        assert arch.parse_stack(arch.format_stack(layers)) == tuple(layers)
    assert arch.parse_stack("c16k3-m2") == (Layer("conv", 3, 1, 0, 16), Layer("max pool", 2, 2))
    for bad in ("x3", "c0k3", "c16k99", "m2s9", "-".join(["m2"] * 13)):
        with pytest.raises(arch.ArchitectureError):
            arch.parse_stack(bad)
