"""GoogLeNet architecture, costs, receptive fields and the hook-free forward (lab.inception)."""

from __future__ import annotations

import itertools
import sys
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lab import inception as I

BLOCK_SHAPES_224 = {
    "inception3a": (256, 28, 28),
    "inception3b": (480, 28, 28),
    "inception4a": (512, 14, 14),
    "inception4b": (512, 14, 14),
    "inception4c": (512, 14, 14),
    "inception4d": (528, 14, 14),
    "inception4e": (832, 14, 14),
    "inception5a": (832, 7, 7),
    "inception5b": (1024, 7, 7),
}


@pytest.fixture(scope="module")
def model():
    return I.build_googlenet(seed=0)


@pytest.fixture(scope="module")
def X():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


# --- published numbers ---------------------------------------------------------------------------------


def test_table_totals_match_torchvision_published_numbers():
    from torchvision.models import GoogLeNet_Weights

    table = I.layer_table(224)
    meta = GoogLeNet_Weights.IMAGENET1K_V1.meta
    assert table.total_params == 6_624_904 == meta["num_params"]
    assert round(table.total_macs / 1e9, 3) == 1.498 == meta["_ops"]
    assert table.total_macs == I.flop_counter_macs(224)  # torch.utils.flop_counter: FLOPs / 2


@pytest.mark.parametrize("size", [15, 97, 300])
def test_flop_counter_agrees_at_other_sizes(size):
    assert I.layer_table(size).total_macs == I.flop_counter_macs(size)


def test_real_model_has_6_624_904_parameters(model):
    assert I.main_params(model) == I.count_params(model) == 6_624_904
    with_aux = I.meta_googlenet(aux_logits=True)
    assert I.main_params(with_aux) == 6_624_904
    assert I.count_params(with_aux) > 6_624_904  # aux heads exist but are not counted
    table = I.layer_table(224)
    assert {r.name for r in table.rows if r.aux} == {"aux1", "aux2"}
    assert sum(r.params for r in table.rows) == I.count_params(with_aux)


def test_nine_block_shapes_at_224(model):
    table = I.layer_table(224)
    assert {r.name: r.shape for r in table.rows if r.name in I.BLOCKS} == BLOCK_SHAPES_224
    with torch.inference_mode():
        _, acts = I.run_network(model, torch.zeros(1, 3, 224, 224), I.Capture(layers=I.BLOCKS))
    assert {k: tuple(v.shape[1:]) for k, v in acts.items()} == BLOCK_SHAPES_224


@pytest.mark.parametrize("size", [(15, 15), (16, 40), (33, 33), (224, 224), (299, 171)])
def test_shape_formula_matches_a_real_forward(size):
    shapes, problem = I.spatial_shapes(size)
    assert problem == ""
    real = I.meta_shapes(size)
    for name, hw in shapes.items():
        if len(real[name]) == 3:
            assert real[name][1:] == hw, name


@pytest.mark.parametrize("n", range(1, 20))
@pytest.mark.parametrize(("k", "s", "p", "ceil"), [(3, 2, 0, True), (2, 2, 0, True), (7, 2, 3, False), (3, 1, 1, True)])
def test_conv_out_matches_pytorch(n, k, s, p, ceil):
    x = torch.zeros(1, 1, n, n)
    try:
        expected = F.max_pool2d(x, k, s, p, ceil_mode=ceil).shape[-1] if p <= k // 2 else None
    except RuntimeError:
        expected = 0
    if expected is not None:
        assert I.conv_out(n, k, s, p, ceil) == expected


def test_minimum_input_is_15_found_empirically():
    from torchvision.models import GoogLeNet_Weights

    works = []
    for size in range(8, 20):
        try:
            I.meta_shapes((size, size))
            works.append(size)
        except RuntimeError:
            pass
    assert min(works) == I.MIN_SIZE == 15 == GoogLeNet_Weights.IMAGENET1K_V1.meta["min_size"][0]
    table = I.layer_table(14)
    assert not table.ok and "maxpool3" in table.problem and "15×15" in table.problem
    assert I.layer_table(15).ok
    assert I.layer_table(15).row("inception5b").shape == (1024, 1, 1)


# --- inside a block ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", I.BLOCKS)
def test_branch_params_and_macs_sum_to_the_block(block):
    a = I.block_anatomy(block, 224)
    assert sum(b.params for b in a.branches) == a.params == I.layer_table(224).row(block).params
    assert sum(b.macs for b in a.branches) == a.macs == I.layer_table(224).row(block).macs
    ranges = [b.channel_range for b in a.branches]
    assert ranges[0][0] == 0 and ranges[-1][1] == a.out_channels == BLOCK_SHAPES_224[block][0]
    assert all(r0[1] == r1[0] for r0, r1 in itertools.pairwise(ranges))
    assert [b.channels for b in a.branches] == list(I.paper_branch_channels(block).values())
    assert a.naive.macs > 2 * a.macs  # the 1×1 reductions save at least half


def test_inception3a_by_hand():
    a = I.block_anatomy("inception3a", 224)
    # branch2: 1×1 192→96 (+BN) then 3×3 96→128 (+BN)
    assert a.branches[1].params == 192 * 96 + 2 * 96 + 96 * 128 * 9 + 2 * 128
    assert a.branches[1].macs == 28 * 28 * (192 * 96 + 96 * 128 * 9)
    assert a.branches[1].channel_range == (64, 192)
    # naive: 1×1, 3×3, 5×5 straight on 192 channels (+BN), pool unprojected
    assert a.naive.macs == 28 * 28 * 192 * (64 + 9 * 128 + 25 * 32)
    assert a.naive.out_channels == 64 + 128 + 32 + 192


def test_branch_output_ranges_are_where_the_concat_puts_them(model, X):
    with torch.inference_mode():
        _, acts = I.run_network(model, X, I.Capture(layers=("inception4a",), branches=("inception4a",)))
    for b in I.block_anatomy("inception4a").branches:
        lo, hi = b.channel_range
        torch.testing.assert_close(acts["inception4a"][:, lo:hi], acts[f"inception4a.{b.name}"], rtol=0, atol=0)


# --- the paper ---------------------------------------------------------------------------------------------------


def test_torchvision_widths_equal_table_1():
    rows = I.paper_vs_torchvision()
    assert [r.block for r in rows] == list(I.BLOCKS)
    for r in rows:
        assert r.torchvision_config == r.config == I.PAPER_CONFIG[r.block]
        assert r.tv_params < r.paper_params  # 3×3 instead of 5×5 outweighs the BN parameters
        assert r.tv_macs < r.paper_macs


def test_paper_numbers_from_the_config_agree_with_the_printed_table():
    for r in I.paper_vs_torchvision():
        assert r.paper_macs / 1e6 == pytest.approx(r.printed_ops_m, rel=0.06), r.block
        assert r.paper_params / 1024 == pytest.approx(r.printed_params_k, rel=0.08), r.block
    assert r.paper_params == 1_442_816  # 5b by hand: 832·(384+192+48+128) + 9·192·384 + 25·48·128
    total_printed_k = sum(p for p, _ in I.PAPER_PRINTED.values())
    assert total_printed_k / 1000 == pytest.approx(6.8, rel=0.01)  # "≈ 6.8M parameters"


def test_deviations_are_all_named():
    text = " ".join(f"{d.what} {d.paper} {d.torchvision} {d.reference}" for d in I.DEVIATIONS)
    for needle in ("5×5", "3×3", "#906", "LRN", "BatchNorm", "maxpool4", "2×2", "0.2", "40%", "not pretrained"):
        assert needle in text, needle
    m = I.meta_googlenet(aux_logits=False)
    assert m.inception3a.branch3[1].conv.kernel_size == (3, 3)  # the deviation is real
    assert m.maxpool4.kernel_size == 2
    assert m.dropout.p == 0.2


# --- receptive fields ---------------------------------------------------------------------------------------------


def _surrogate(model: nn.Module, upto: str) -> nn.Sequential:
    """The layers on the widest path up to ``upto``, as single-channel all-ones convs / avg-pools."""
    layers = []
    for name in I.SEQUENCE:
        module = getattr(model, name)
        chain = I._chain(module.branch2 if name in I.BLOCKS else module)
        for m in chain:
            k, s, p, ceil = I._geom(m)
            if isinstance(m, nn.MaxPool2d):
                layers.append(nn.AvgPool2d(k, s, p, ceil_mode=ceil))
            else:
                conv = nn.Conv2d(1, 1, k, s, p, bias=False)
                nn.init.ones_(conv.weight)
                layers.append(conv)
        if name == upto:
            break
    return nn.Sequential(*layers)


@pytest.mark.parametrize("layer", ["conv1", "maxpool2", "inception3a", "inception4a", "inception4e"])
def test_receptive_field_formula_matches_autograd(layer):
    model = I.build_googlenet(seed=0)
    f = I.receptive_fields(model)[layer]
    net = _surrogate(model, layer)
    x = torch.zeros(1, 1, 320, 320, requires_grad=True)
    y = net(x)
    i = j = y.shape[-1] // 2
    y[0, 0, i, j].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
    assert int(rows.max() - rows.min() + 1) == f.size
    assert int(cols.max() - cols.min() + 1) == f.size
    assert f.box(i, j, 320, 320)[:2] == (int(rows.min()), int(cols.min()))


def test_receptive_field_numbers_at_224():
    f = I.receptive_fields(I.meta_googlenet(aux_logits=False))
    assert (f["conv1"].size, f["conv1"].jump) == (7, 2)
    assert (f["inception3a"].size, f["inception3a"].jump) == (43, 8)
    assert (f["inception5b"].size, f["inception5b"].jump) == (379, 32)


@pytest.mark.parametrize(
    ("size", "name"), [(224, "inception4e"), (96, "inception4a"), (240, "maxpool4"), (300, "inception5a"), (512, None)]
)
def test_first_field_beyond_the_input_is_read_from_the_table(size, name):
    # issue 14: the caption said "from inception4 on" at 224, but 4a-4d (107-203 px) fit inside 224
    table = I.layer_table(size)
    row = I.first_field_beyond_input(table)
    assert (row.name if row else None) == name
    spatial = [r for r in table.rows if not r.aux and r.rf is not None]
    before = spatial[: spatial.index(row)] if row else spatial
    assert all(r.rf <= size for r in before) and (row is None or row.rf > size)


# --- the hook-free forward ----------------------------------------------------------------------------------------


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_run_network_is_bit_identical_to_torchvision(model, X):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    everything = I.Capture(layers=I.SEQUENCE, branches=I.BLOCKS, pre_relu=(*I.BLOCKS, "conv1", "conv3"))
    with torch.inference_mode():
        expected = model(X)
        plain, _ = I.run_network(model, X)
        captured, acts = I.run_network(model, X, everything)
        again = model(X)
    assert torch.equal(plain, expected) and torch.equal(captured, expected) and torch.equal(again, expected)
    assert _hooks(model) == 0 and not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert len(acts) == len(I.SEQUENCE) + 4 * 9 + 9 + 2


def test_pre_relu_maps_are_cloned_before_the_in_place_relu(model, X):
    with torch.inference_mode():
        _, acts = I.run_network(
            model, X, I.Capture(branches=("inception3a",), pre_relu=("inception3a.branch2", "conv1"), layers=("conv1",))
        )
        pre, post = acts["inception3a.branch2.pre"], acts["inception3a.branch2"]
        assert (pre < 0).any()  # a reference would have been overwritten by the in-place ReLU
        torch.testing.assert_close(F.relu(pre), post, rtol=0, atol=0)
        torch.testing.assert_close(F.relu(acts["conv1.pre"]), acts["conv1"], rtol=0, atol=0)
        # the BN output computed independently
        conv = model.inception3a.branch2
        _, a3 = I.run_network(model, X, I.Capture(layers=("maxpool2",)))
        z = conv[1].bn(conv[1].conv(conv[0](a3["maxpool2"])))
        torch.testing.assert_close(pre, z)


def test_branch_capture_agrees_with_torchvision_feature_extractor(model, X):
    from torchvision.models.feature_extraction import create_feature_extractor

    nodes = {"inception4b.branch1.relu": "b1", "inception4b.branch3.1.relu": "b3", "inception4b.cat": "cat"}
    ext = create_feature_extractor(model, return_nodes=nodes)
    with torch.inference_mode():
        ref = ext(X)
        _, acts = I.run_network(model, X, I.Capture(layers=("inception4b",), branches=("inception4b",)))
    torch.testing.assert_close(acts["inception4b.branch1"], ref["b1"])
    torch.testing.assert_close(acts["inception4b.branch3"], ref["b3"])
    torch.testing.assert_close(acts["inception4b"], ref["cat"])
    assert _hooks(model) == 0


def test_transform_input_by_hand_matches_torchvision(model, X):
    torch.testing.assert_close(I.transform_input(X), model._transform_input(X))


def test_knockout_equals_a_zeroed_branch_in_a_private_copy(model, X):
    import copy

    private = copy.deepcopy(model)
    handle = private.inception4c.branch3.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
    try:
        with torch.inference_mode():
            expected = private(X)
    finally:
        handle.remove()
    with torch.inference_mode():
        ko, _ = I.run_network(model, X, I.Capture(knockout=("inception4c.branch3",)))
        plain = model(X)
    torch.testing.assert_close(ko, expected)
    assert not torch.equal(ko, plain)
    assert _hooks(model) == 0


def test_stop_at_returns_early_without_logits(model, X):
    logits, acts = I.run_network(model, X, I.Capture(layers=("inception3a",), stop_at="inception3a"))
    assert logits is None and set(acts) == {"inception3a"}


def test_two_concurrent_requests_do_not_interfere(model):
    gen = torch.Generator().manual_seed(3)
    inputs = [torch.randn(1, 3, 96, 96, generator=gen) for _ in range(2)]
    captures = [
        I.Capture(layers=("inception4a",), branches=I.BLOCKS, pre_relu=("inception4a",)),
        I.Capture(layers=("inception5b",), knockout=("inception3b.branch2",)),
    ]
    with torch.inference_mode():
        expected = [I.run_network(model, x, c) for x, c in zip(inputs, captures, strict=True)]
    results: dict[int, list] = {0: [], 1: []}
    barrier = threading.Barrier(2)

    def worker(k: int) -> None:
        barrier.wait()
        with torch.inference_mode():
            for _ in range(3):
                results[k].append(I.run_network(model, inputs[k], captures[k]))

    threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (0, 1):
        for logits, acts in results[k]:
            torch.testing.assert_close(logits, expected[k][0], rtol=0, atol=0)
            assert set(acts) == set(expected[k][1])
            for name, value in acts.items():
                torch.testing.assert_close(value, expected[k][1][name], rtol=0, atol=0)
    assert _hooks(model) == 0


def test_untrained_model_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = I.build_googlenet(seed=5)
    after = torch.rand(1)
    b = I.build_googlenet(seed=5)
    assert torch.equal(after, expected_next)
    assert torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, I.build_googlenet(seed=6).fc.weight)
    assert a.transform_input and not a.training and a.aux1 is None


def test_untrained_model_is_the_same_while_another_session_uses_the_global_rng():
    """Another session seeding and drawing from the global RNG meanwhile cannot change the cached "seed N" model."""
    state = torch.get_rng_state()
    alone = I.build_googlenet(seed=5).state_dict()
    assert torch.equal(torch.get_rng_state(), state)  # neither read-and-advanced nor reseeded

    stop = threading.Event()

    def other_session() -> None:  # reseeds and draws as another lab building its models would
        i = 0
        while not stop.is_set():
            torch.manual_seed(i)
            nn.Linear(64, 64)
            torch.rand(256)
            i += 1

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL over often, so the draws interleave
    hammer = threading.Thread(target=other_session, daemon=True)
    hammer.start()
    try:
        built = [I.build_googlenet(seed=5).state_dict() for _ in range(2)]
    finally:
        stop.set()
        hammer.join()
        sys.setswitchinterval(switch)
    for sd in built:
        assert sd.keys() == alone.keys()
        for k, v in alone.items():
            assert torch.equal(sd[k], v), k


def test_records_and_charts_render():
    table = I.layer_table(224)
    recs = I.table_records(table)
    assert len(recs) == len(table.rows) and recs[0]["output shape"] == "64×112×112"
    assert next(r for r in recs if r["layer"] == "aux1")["aux"] == "AUX"
    fig = I.cost_chart(table)
    assert (
        fig.layout.title.text and fig.layout.xaxis2.title.text and not fig.layout.xaxis.title.text
    )  # one x title, at the bottom
    fig = I.block_figure(I.block_anatomy("inception5b"))
    assert len([t for t in fig.data if t.showlegend is not False]) == 4
    assert I.format_count(1_498_376_192) == "1.5 G"


# --- issue 14 / 15 / 16 (Lab 6): honest numbers ------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 224])
def test_activation_memory_column_equals_the_captured_activations(model, size):
    """Each row's activation memory is the byte size of that layer's output in a real forward pass."""
    table = I.layer_table(size)
    X = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        _, acts = I.run_network(model, X, I.Capture(layers=I.SEQUENCE))
    measured = {name: t.numel() * t.element_size() for name, t in acts.items()}
    rows = {r.name: r for r in table.rows if not r.aux}
    assert set(rows) == set(measured)
    for name, row in rows.items():
        assert row.act_bytes == measured[name], name
        assert row.shape == tuple(acts[name].shape[1:]), name
    assert table.total_act_bytes == sum(measured.values())
    seq = [r for r in table.rows if not r.aux]
    assert seq[0].in_shape == (3, size, size)
    for before, after in itertools.pairwise(seq):
        assert after.in_shape == before.shape, after.name
    recs = I.table_records(table)
    assert {"input shape", "activation memory", "theoretical receptive field"} <= set(recs[0])


def test_parameter_total_does_not_depend_on_a_too_small_input():
    small = I.layer_table(14)
    assert not small.ok and small.total_params == 6_624_904  # was 620,832 (only the layers reached)


def test_one_by_one_savings_compare_like_with_like():
    """Naive 5×5 vs the paper's reduced 5×5 block; naive 3×3 vs torchvision's block (3×3 third branch)."""
    a = I.block_anatomy("inception3a")
    hw = 28 * 28
    paper_weights = 192 * (64 + 96 + 16 + 32) + 9 * 96 * 128 + 25 * 16 * 32  # Table 1's widths, real 5×5
    bn = 2 * (64 + 96 + 128 + 16 + 32 + 32)
    assert a.paper_params == paper_weights + bn and a.paper_macs == hw * paper_weights
    assert a.naive.fifth_kernel == 5 and a.naive_tv.fifth_kernel == 3
    assert a.naive_tv.macs == hw * 192 * (64 + 9 * 128 + 9 * 32)
    real = nn.Conv2d(16, 32, 5, bias=False)  # the paper's branch3 conv, as torch counts it
    assert a.paper_params - a.params == real.weight.numel() - 9 * 16 * 32
    assert a.saving_paper[1] == pytest.approx(a.naive.macs / a.paper_macs)
    assert a.saving_tv[1] == pytest.approx(a.naive_tv.macs / a.macs)
    assert a.saving_tv[1] < a.naive.macs / a.macs  # the old mixed comparison overstated the saving


def test_k_is_an_inference_and_1024_fits_better():
    from lab import inception_paper as P

    fit = P.k_fit()
    assert fit[1024] < fit[1000]


def test_deviations_name_the_pools_and_the_minimum_size_is_torchvisions():
    import torch.nn.functional as F

    from lab import inception_paper as P

    devs = {d.what: d for d in P.deviations()}
    pool = devs["adaptive average pool"]
    assert "7×7 average pool" in pool.paper and "AdaptiveAvgPool2d" in pool.torchvision
    assert "15×15 is torchvision's property" in pool.consequence
    lo, hi = P.fixed_pool_sizes()
    assert f"{lo}–{hi} px" in pool.consequence
    assert (
        I.spatial_shapes((lo, lo))[0]["inception5b"] == (7, 7) != I.spatial_shapes((lo - 1, lo - 1))[0]["inception5b"]
    )
    assert isinstance(I.meta_googlenet(aux_logits=False).avgpool, nn.AdaptiveAvgPool2d)
    aux = devs["aux heads' pool is adaptive"]
    assert "5×5 average pool, stride 3" in aux.paper
    # the windows we print are PyTorch's: averaging them by hand equals adaptive_avg_pool2d
    x = torch.arange(14.0).view(1, 1, 1, 14)
    by_hand = torch.tensor([x[..., a:b].mean() for a, b in P.adaptive_windows(14, 4)])
    torch.testing.assert_close(F.adaptive_avg_pool2d(x, (1, 4)).flatten(), by_hand)
    assert "0, 3, 7, 10" in aux.consequence


def test_paper_table_records_are_formatted_and_narrow():
    from lab import inception_paper as P

    widths, params, macs = P.paper_records(P.paper_vs_torchvision())
    assert params[0]["paper, 5×5 (computed)"] == "163,328" and widths[0]["Table 1 widths"] == "64·96·128·16·32·32"
    assert widths[0]["torchvision"] == "same" and widths[0]["out"] == 256
    assert len(widths[0]) <= 5 and len(params[0]) <= 5 and len(macs[0]) <= 5
    assert all(isinstance(v, str) for r in params + macs for v in r.values())  # formatted, never raw ints
