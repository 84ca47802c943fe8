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
    assert len(answers) == 5  # the four questions, then weight sharing
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


def test_weight_sharing_counts_equal_real_linear_and_conv2d_formulas():
    # The formulas, checked on small instances against real modules (a 2.76e10-weight Linear is never built).
    for n_in, n_out in ((12, 5), (3 * 4 * 4, 2 * 2 * 2), (7, 1)):
        assert arch.linear_params(n_in, n_out) == sum(p.numel() for p in torch.nn.Linear(n_in, n_out).parameters())
    for c_in, c_out, k in ((3, 100, 5), (100, 100, 5), (1, 4, 3)):
        assert arch.conv2d_params(c_in, c_out, k) == sum(
            p.numel() for p in torch.nn.Conv2d(c_in, c_out, k).parameters()
        )
    # The lecture's numbers: dense 3×100×100 → 100×96×96 vs the conv's 7,600.
    analysis = arch.analyse(arch.LECTURE_INPUT, arch.LECTURE_STACK)
    ws = arch.weight_sharing(analysis.rows[0])
    assert ws.in_shape == (3, 100, 100) and ws.out_shape == (100, 96, 96)
    assert ws.dense_params == 30_000 * 921_600 + 921_600 == 27_648_921_600
    assert ws.conv_params == 7_600 == analysis.rows[0].params
    assert round(ws.dense_params / 1e10, 2) == 2.76
    # On a small stack, the dense count equals a real nn.Linear between the same blobs.
    small = arch.analyse((2, 6, 6), (Layer("conv", 3, 1, 0, 4),))
    ws_small = arch.weight_sharing(small.rows[0])
    real = torch.nn.Linear(2 * 6 * 6, 4 * 4 * 4)
    assert ws_small.dense_params == sum(p.numel() for p in real.parameters())
    # The st.latex text states the same numbers.
    tex = ws.latex()
    assert r"27\,648\,921\,600" in tex and r"7\,600" in tex and r"2.76\cdot 10^{10}" in tex
    quiz = arch.quiz(analysis)
    assert quiz[-1].latex == tex and "2.76·10¹⁰" in quiz[-1].answer and "7,600" in quiz[-1].answer


def test_quiz_refuses_an_impossible_stack():
    analysis = arch.analyse((3, 10, 10), (Layer("conv", 5, 1, 0, 4), Layer("max pool", 2, 2), Layer("conv", 5)))
    assert analysis.problem and arch.quiz(analysis) == []


def test_parse_stack_caps_lengths_and_never_echoes():
    for bad in ("c" + "9" * 5000, "c1k3" * 200, "-".join(["m2s2"] * 13), "c99999k3", "<img src=x>"):
        with pytest.raises(arch.ArchitectureError) as caught:
            arch.parse_stack(bad)
        assert "img" not in str(caught.value) and "99999" not in str(caught.value)


def test_check_cost_caps_the_real_run_and_meta_checks_shapes():
    lecture = arch.analyse(arch.LECTURE_INPUT, arch.LECTURE_STACK)
    cost = arch.check_cost(lecture)
    assert cost.fits and cost.macs == lecture.total_macs
    huge = arch.analyse((512, 1024, 1024), arch.LECTURE_STACK)
    big = arch.check_cost(huge)
    assert not big.fits and big.macs > arch.CHECK_MAX_MACS
    # On the meta device the real modules give the calculator's shapes and counts without computing.
    model = arch.build_sequential(512, arch.LECTURE_STACK, device="meta")
    Y = torch.zeros(1, 512, 1024, 1024, device="meta")
    for module, row in zip(model, huge.rows, strict=True):
        Y = module(Y)
        assert tuple(Y.shape[1:]) == row.out_shape
    assert sum(p.numel() for p in model.parameters()) == huge.total_params
