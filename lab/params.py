"""Widget specs as data, and their round trip through a URL query string.

A lab declares its settings once, next to the function they drive::

    SPECS = (
        Param("lr", "Learning rate α", 0.1, kind="log", lo=1e-4, hi=10.0),
        Param("optimizer", "Optimiser", "gd", kind="choice", options=("gd", "sgd", "adam")),
        Param("num_steps", "Steps", 200, kind="int", lo=1, hi=5000, step=10),
    )

Pages build their controls from the specs in a loop (``ui.widgets``), tests
iterate every entry, and :func:`to_query` / :func:`from_query` put the values
into a link and read them back, so a copied URL reproduces the experiment.
Values from a URL are untrusted: anything unparsable or out of range falls back
to the default (or is clamped) and is reported, never raised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

Kind = Literal["int", "float", "log", "choice", "bool", "multi", "text"]


@dataclass(frozen=True)
class Param:
    """One setting of a lab: what it is called, its range and default."""

    name: str  # key in the config dataclass and in the URL query
    label: str  # what the widget says
    default: Any  # value when nothing else is given
    kind: Kind = "float"  # int / float / log (log-scale float) / choice / bool / multi / text
    lo: float | None = None  # smallest allowed value (numbers)
    hi: float | None = None  # largest allowed value (numbers)
    step: float | None = None  # widget step (numbers)
    options: tuple[Any, ...] = ()  # allowed values (choice / multi)
    help: str = ""  # one sentence shown as the widget's tooltip
    labels: Mapping[Any, str] | None = None  # display names for options

    def __post_init__(self) -> None:
        if self.kind in ("choice", "multi") and not self.options:
            raise ValueError(f"Param {self.name!r}: a {self.kind} needs options")
        self.validate(self.default)  # a wrong default is a programming error

    def format_option(self, value: Any) -> str:
        return str(self.labels.get(value, value)) if self.labels else str(value)

    # --- values ---------------------------------------------------------------
    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to this param's type and range, or raise ValueError."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError(f"{self.name}: expected true/false, got {value!r}")
        if self.kind == "choice":
            if value in self.options:
                return value
            raise ValueError(f"{self.name}: {value!r} is not one of {list(self.options)}")
        if self.kind == "multi":
            values = tuple(value)
            bad = [v for v in values if v not in self.options]
            if bad:
                raise ValueError(f"{self.name}: {bad} not in {list(self.options)}")
            return values
        if self.kind == "text":
            return str(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{self.name}: {value!r} is not a finite number")
        if self.kind == "int":
            if number != int(number):
                raise ValueError(f"{self.name}: {value!r} is not a whole number")
            number = int(number)
        if self.lo is not None and number < self.lo:
            raise ValueError(f"{self.name}: {number} is below the minimum {self.lo}")
        if self.hi is not None and number > self.hi:
            raise ValueError(f"{self.name}: {number} is above the maximum {self.hi}")
        return number

    def encode(self, value: Any) -> str:
        """The value as it appears in a URL."""
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "multi":
            return ",".join(str(v) for v in value)
        if self.kind in ("float", "log"):
            return f"{float(value):.6g}"
        return str(value)

    def decode(self, raw: str) -> Any:
        """Parse a URL value; raises ValueError when it does not fit."""
        raw = raw.strip()
        if self.kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{self.name}: {raw!r} is not true/false")
        if self.kind in ("choice", "multi"):
            by_text = {str(o): o for o in self.options}
            if self.kind == "choice":
                if raw not in by_text:
                    raise ValueError(f"{self.name}: {raw!r} is not one of {list(by_text)}")
                return by_text[raw]
            parts = [p for p in raw.split(",") if p]
            return self.validate([by_text.get(p, p) for p in parts])
        if self.kind == "text":
            return raw
        return self.validate(float(raw))


def defaults(specs: Iterable[Param]) -> dict[str, Any]:
    """``{name: default}`` for every spec."""
    return {p.name: p.default for p in specs}


def to_query(specs: Iterable[Param], values: Mapping[str, Any], *, only_changed: bool = True) -> dict[str, str]:
    """Values → ``{key: text}`` for a URL query. Defaults are left out to keep links short."""
    query = {}
    for p in specs:
        if p.name in values and (not only_changed or values[p.name] != p.default):
            query[p.name] = p.encode(values[p.name])
    return query


def from_query(specs: Iterable[Param], query: Mapping[str, str | Sequence[str]]) -> tuple[dict[str, Any], list[str]]:
    """A URL query → ``(values, problems)``.

    Every spec gets a value: the URL's when it parses and fits, otherwise the
    default. ``problems`` lists what was ignored, in words for the page.
    Unknown keys are ignored silently (other labs' or global settings).
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for p in specs:
        raw = query.get(p.name)
        if raw is None:
            values[p.name] = p.default
            continue
        if not isinstance(raw, str):  # a repeated key: take the last one
            raw = raw[-1] if raw else ""
        try:
            values[p.name] = p.decode(raw)
        except (ValueError, TypeError) as err:
            values[p.name] = p.default
            problems.append(f"Ignored “{p.name}={raw}” from the link ({err}); using {p.encode(p.default)}.")
    return values, problems


def make_config(cls: type, values: Mapping[str, Any], **extra: Any) -> Any:
    """Build a frozen config dataclass from widget values, taking only its fields."""
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in {**values, **extra}.items() if k in names}
    return cls(**kwargs)
