"""Caps on the heaviest requests, for a public server (``DL101_PUBLIC=1``).

Locally a student may ask for anything the widgets allow: it is their machine.
On a public demo one click of Lab 4 at its widgets' limits is ~6 CPU-hours and a
5,000-epoch Lab 2 run ~70 CPU-minutes, shared with everyone else. With
``DL101_PUBLIC=1`` (the container sets it) each session's heaviest requests are
capped; the page says when a cap applied, and by how much.

Each cap is a number of "work units" a lab computes from its settings (e.g.
configurations × seeds × epochs). :func:`cap` returns the value to use and a
sentence for the page, or ``None`` when nothing was cut.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def public_mode() -> bool:
    """Whether this server runs as a public demo (``DL101_PUBLIC`` is 1/true/yes)."""
    return os.environ.get("DL101_PUBLIC", "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Cap:
    """One limit: a name for the page, the largest value allowed, and what it counts."""

    label: str  # what is capped, for the message ("training epochs")
    limit: int  # the largest value allowed on a public server
    unit: str = ""  # how the value is counted ("configurations × seeds × epochs")


#: The public-server caps (sized so one request is at most ~20–60 CPU-seconds on one core). The
#: other heavy paths are bounded for everyone: the augmentation preview by its widgets (≤ 36 samples),
#: Lab 3's stack check by arch.CHECK_MAX_MACS, and every heavy job waits in lab.scheduler's queue.
PUBLIC_CAPS: dict[str, Cap] = {
    "regularization.work": Cap("Lab 4 training", 4 * 2 * 60, "configurations × seeds × epochs"),
    "mlp.play_seconds": Cap("one press of Lab 2's Play", 60, "seconds of training"),
    "augmentation.train_epochs": Cap("Lab 5 training epochs", 60, "epochs"),
    "inception.featurevis_steps": Cap("feature-visualisation steps", 128, "steps"),
}


def cap(name: str, value: int | float) -> tuple[int | float, str | None]:
    """``(value to use, message or None)``: ``value`` itself locally, at most the cap on a public server."""
    rule = PUBLIC_CAPS[name]  # a KeyError here is a typo in a page, caught by the tests
    if not public_mode() or value <= rule.limit:
        return value, None
    unit = f" ({rule.unit})" if rule.unit else ""
    message = (
        f"This public server caps {rule.label} at {rule.limit:,}{unit}; you asked for {value:,.0f}, "
        f"so {rule.limit:,} are used. Run the app on your own machine for the full amount."
    )
    return type(value)(rule.limit), message
