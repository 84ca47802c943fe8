"""Lab 5: seeded draws are private (lab.augment_rng): concurrent sessions cannot change each other's results."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from lab import augment as A
from lab import augment_training as AT
from lab.augment_rng import private_rng
from lab.images import load_sample


@pytest.fixture(scope="module")
def cat() -> torch.Tensor:
    return A.to_tensor(load_sample("cat").image)


#: A pipeline that draws in every way the lab uses: probability tests, make_params, a policy, noise.
BUSY = {"vflip": True, "affine": True, "noise": True, "erasing": True, "randaugment": True, "elastic": True}


def test_private_draws_equal_manual_seed_and_leave_the_global_rng_alone(cat):
    config = A.PipelineConfig.from_values(BUSY)
    size = A.preview_size(tuple(cat.shape[-2:]), 128)
    pipeline, start = A.build_pipeline(config, size), A.prepare(cat, config, size)
    for seed in (0, 5, 123_456):
        torch.manual_seed(seed)
        expected = pipeline(start)
        state = torch.get_rng_state()
        with private_rng(seed) as rng:
            got = pipeline(start)
        assert rng.draws > 0
        assert torch.equal(got, expected)  # the generated code's torch.manual_seed gives the same numbers
        assert torch.equal(torch.get_rng_state(), state)  # nothing was drawn from the shared generator


def test_ops_that_can_only_use_the_global_rng_are_refused():
    with private_rng(0), pytest.raises(RuntimeError, match="global RNG"):
        F.dropout(torch.ones(4), 0.5)
    with private_rng(0):
        assert torch.equal(F.dropout(torch.ones(4), 0.5, training=False), torch.ones(4))  # eval draws nothing


@pytest.mark.parametrize("init_weights", [False, True])
def test_torchvision_init_paths_draw_privately_like_manual_seed(init_weights):
    """Module defaults (kaiming_uniform_, uniform_) and torchvision's own init (trunc_normal_), all redirected."""
    from torchvision.models import googlenet

    def build() -> dict[str, torch.Tensor]:
        model = googlenet(weights=None, aux_logits=True, init_weights=init_weights, transform_input=True)
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):  # what lab.inception.build_googlenet adds
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        return model.state_dict()

    torch.manual_seed(7)
    expected = build()
    state = torch.get_rng_state()
    with private_rng(7) as rng:
        got = build()
    assert rng.draws > 100
    assert torch.equal(torch.get_rng_state(), state)
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected)


def _race(jobs: dict[str, callable], rounds: int = 2) -> dict[str, list]:
    """Run every job at once in its own thread, while another thread reseeds and drains the global RNG."""
    results: dict[str, list] = {name: [] for name in jobs}
    stop = threading.Event()

    def other_session() -> None:  # e.g. code elsewhere in the process that uses torch.manual_seed
        while not stop.is_set():
            torch.manual_seed(999)
            torch.rand(64)
            torch.nn.Linear(8, 8)

    noise = threading.Thread(target=other_session)
    noise.start()
    try:
        for _ in range(rounds):
            barrier = threading.Barrier(len(jobs))

            def run(name: str, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                results[name].append(jobs[name]())

            threads = [threading.Thread(target=run, args=(name,)) for name in jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        stop.set()
        noise.join()
    return results


def test_two_concurrent_previews_with_different_seeds_each_equal_their_serial_result(cat):
    config = A.PipelineConfig.from_values({**BUSY, "jitter": True})

    def job(seed: int):
        return lambda: A.preview(cat, config, num_samples=6, side=128, seed=seed).tensors

    serial = {seed: job(seed)() for seed in (1, 2)}
    raced = _race({seed: job(seed) for seed in (1, 2)})
    for seed in (1, 2):
        for run in raced[seed]:
            assert all(torch.equal(a, b) for a, b in zip(run, serial[seed], strict=True)), f"seed {seed}"


def test_two_concurrent_trainings_with_different_seeds_each_equal_their_serial_result():
    configs = {seed: AT.TrainConfig(tr_train_size=50, tr_epochs=2, seed=seed) for seed in (1, 2)}

    def job(seed: int):
        return lambda: AT.train(configs[seed], augment=True).metrics

    serial = {seed: job(seed)() for seed in configs}
    raced = _race({seed: job(seed) for seed in configs}, rounds=1)
    for seed in configs:
        assert raced[seed] == [serial[seed]], f"seed {seed}"


def test_training_neither_reads_nor_reseeds_the_global_rng():
    """Initial weights come from a private generator: the old torch.manual_seed(seed) reseeded every session's RNG."""
    torch.manual_seed(77)
    state = torch.get_rng_state()
    a = AT.train(AT.TrainConfig(tr_train_size=50, tr_epochs=1, seed=3), augment=False)
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(1000)  # another session moves the global generator on…
    b = AT.train(AT.TrainConfig(tr_train_size=50, tr_epochs=1, seed=3), augment=False)
    assert a.metrics == b.metrics  # …and the run is the same


def test_a_comparison_interrupted_between_epochs_continues_to_the_same_result():
    """A page rerun stops training inside on_progress; the Comparer continues and ends as an uninterrupted run."""
    config = AT.TrainConfig(tr_train_size=50, tr_epochs=4, seed=2)
    whole = AT.compare(config)

    class Rerun(Exception):
        pass

    def interrupt(name, progress):  # what Streamlit does at the next st call after a widget change
        if name == "with augmentation" and progress.step == 2:
            raise Rerun

    comparer = AT.Comparer(config)
    with pytest.raises(Rerun):
        comparer.advance(on_progress=interrupt)
    assert comparer.epoch == 2 and not comparer.done
    comparer.advance(1)
    assert comparer.epoch == 3
    comparer.advance()
    assert comparer.done
    resumed = comparer.comparison()
    assert resumed.plain.metrics == whole.plain.metrics and resumed.augmented.metrics == whole.augmented.metrics
    assert resumed.plain.ok and resumed.augmented.ok and resumed.plain.steps == [1, 2, 3, 4]
