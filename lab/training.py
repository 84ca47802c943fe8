"""The training loop shared by every lab that trains something.

One loop, many labs: a lab supplies ``step_fn(step) -> metrics`` (one
optimisation step, returning at least ``{"loss": ...}``); the loop adds what
every lab needs around it:

- progress callbacks (``on_progress``) at most every ``progress_every`` steps
  *or* ``progress_seconds`` seconds, whichever comes first — the page keeps an
  ``st.*`` call in here, so a click can interrupt the run;
- snapshots every ``snapshot_every`` steps (``snapshot_fn(step)`` returns
  whatever the lab wants to animate later, e.g. a copy of the weights);
- a clean stop with a human reason when the loss becomes NaN or ±inf;
- cancellation between steps (``should_stop()`` returns True).

The result is a :class:`History`, never a tuple: metric curves, snapshots, how
many steps ran and why it stopped.

Example (plain PyTorch inside, nothing hidden)::

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    def step(i):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        loss.backward()
        opt.step()
        return {"loss": loss}
    history = run_steps(step, num_steps=200)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

StepFn = Callable[[int], Mapping[str, Any]]


@dataclass
class History:
    """What a training run produced."""

    metrics: dict[str, list[float]] = field(default_factory=dict)  # name → value per recorded step
    steps: list[int] = field(default_factory=list)  # the step index of each recorded value
    snapshots: list[tuple[int, Any]] = field(default_factory=list)  # (step, snapshot_fn(step))
    completed_steps: int = 0  # optimisation steps that finished
    status: str = "running"  # "finished", "diverged", "cancelled"
    reason: str = ""  # a sentence for the student when status is not "finished"
    seconds: float = 0.0  # wall-clock time of the run

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def last(self, name: str, default: float = math.nan) -> float:
        values = self.metrics.get(name)
        return values[-1] if values else default


@dataclass(frozen=True)
class Progress:
    """Passed to ``on_progress``: where the run is now."""

    step: int  # steps completed so far
    num_steps: int  # steps planned
    metrics: Mapping[str, float]  # the latest step's metrics
    elapsed: float  # seconds since the start
    history: History  # the run so far (live object; copy if you keep it)

    @property
    def fraction(self) -> float:
        return self.step / self.num_steps if self.num_steps else 1.0


def _to_float(value: Any) -> float:
    # .item() on a tensor synchronises with the GPU; call it once per step, not per metric op.
    return float(value.item()) if hasattr(value, "item") else float(value)


def run_steps(
    step_fn: StepFn,
    num_steps: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every: int = 10,
    progress_seconds: float = 0.25,
    snapshot_fn: Callable[[int], Any] | None = None,
    snapshot_every: int = 0,
    should_stop: Callable[[], bool] | None = None,
    record_every: int = 1,
    start_step: int = 0,
    history: History | None = None,
) -> History:
    """Run ``step_fn`` for ``num_steps`` steps with progress, snapshots and safety stops.

    ``record_every`` thins the stored metric curves (every step is still checked
    for NaN). ``start_step``/``history`` continue an earlier run (a "step" button
    or resuming after pause). A snapshot of the starting state is taken when
    ``snapshot_fn`` is given and the run starts from step 0.
    """
    history = history if history is not None else History()
    history.status = "running"
    history.reason = ""
    t0 = time.perf_counter()
    last_report = t0
    end = start_step + num_steps
    if snapshot_fn is not None and snapshot_every and start_step == 0 and not history.snapshots:
        history.snapshots.append((0, snapshot_fn(0)))
    step = start_step
    metrics: dict[str, float] = {}
    while step < end:
        if should_stop is not None and should_stop():
            history.status, history.reason = "cancelled", f"Stopped by request after {step} steps."
            break
        metrics = {k: _to_float(v) for k, v in step_fn(step).items()}
        step += 1
        history.completed_steps = step
        loss = metrics.get("loss", 0.0)
        diverged = not math.isfinite(loss)
        if diverged or (step - start_step) % record_every == 0 or step == end:
            history.steps.append(step)
            for name, value in metrics.items():
                history.metrics.setdefault(name, []).append(value)
        if diverged:
            kind = "NaN (not a number)" if math.isnan(loss) else "infinite"
            history.status = "diverged"
            history.reason = (
                f"Training diverged at step {step}: the loss became {kind}. The updates grew "
                "too large — usually the learning rate is too high. Lower it (try 10× smaller) "
                "and reset."
            )
            break
        if snapshot_fn is not None and snapshot_every and step % snapshot_every == 0:
            history.snapshots.append((step, snapshot_fn(step)))
        now = time.perf_counter()
        if on_progress is not None and (
            step % progress_every == 0 or now - last_report >= progress_seconds or step == end
        ):
            last_report = now
            on_progress(Progress(step, end, metrics, now - t0, history))
    else:
        history.status = "finished"
    history.seconds += time.perf_counter() - t0
    return history
