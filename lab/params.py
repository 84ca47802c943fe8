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
to the default and is reported, never raised. Reports name the parameter and
what it expects, and never repeat the link's value (it would be rendered as
Markdown: a link, an image from another host). Multi-select values are
de-duplicated and capped (``Param.max_len``, at most every option once), text
values are capped in length, and raw link values longer than :data:`MAX_RAW`
are not parsed at all. :func:`safe_text` escapes and cuts a value that must be shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

Kind = Literal["int", "float", "log", "choice", "bool", "multi", "text"]
#: Longest link value that is parsed at all (characters); longer ones fall back to the default.
MAX_RAW = 2_000
#: Longest text value when a spec sets no ``max_len``.
MAX_TEXT = 200


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
    max_len: int | None = None  # multi: most selections (default: every option once); text: most characters

    def __post_init__(self) -> None:
        if self.kind in ("choice", "multi") and not self.options:
            raise ValueError(f"Param {self.name!r}: a {self.kind} needs options")
        self.validate(self.default)  # a wrong default is a programming error

    def format_option(self, value: Any) -> str:
        return str(self.labels.get(value, value)) if self.labels else str(value)

    @property
    def limit(self) -> int | None:
        """Most selections (multi) or characters (text) a value may have; ``None`` for other kinds."""
        if self.kind == "multi":
            return min(self.max_len or len(self.options), len(self.options))
        if self.kind == "text":
            return self.max_len or MAX_TEXT
        return None

    def expected(self) -> str:
        """What a valid value looks like, in words for a message (never quotes a user's value)."""
        if self.kind == "bool":
            return "on or off (1 or 0)"
        if self.kind in ("choice", "multi"):
            shown = [str(o) for o in self.options[:8]] + (["…"] if len(self.options) > 8 else [])
            if self.kind == "choice":
                return f"one of {', '.join(shown)}"
            return f"up to {self.limit} of {', '.join(shown)}, separated by commas"
        if self.kind == "text":
            return f"text of at most {self.limit} characters"
        what = "a whole number" if self.kind == "int" else "a number"
        if self.lo is not None and self.hi is not None:
            return f"{what} from {self.lo:g} to {self.hi:g}"
        if self.lo is not None:
            return f"{what} of at least {self.lo:g}"
        if self.hi is not None:
            return f"{what} of at most {self.hi:g}"
        return what

    def describe(self, value: Any) -> str:
        """A valid value in words (e.g. the default a bad link falls back to)."""
        if self.kind == "bool":
            return "on" if value else "off"
        if self.kind == "multi":
            return ", ".join(self.format_option(v) for v in value) or "none"
        if self.kind == "choice":
            return self.format_option(value)
        if self.kind == "text":
            return safe_text(value) if value else "empty"
        return f"{value:g}" if isinstance(value, float) else str(value)

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
            values = tuple(dict.fromkeys(value))  # each option at most once, in the order given
            if any(v not in self.options for v in values):
                raise ValueError(f"{self.name}: expected {self.expected()}")
            if len(values) > self.limit:
                raise ValueError(f"{self.name}: at most {self.limit} selections")
            return values
        if self.kind == "text":
            text = str(value)
            if len(text) > self.limit:
                raise ValueError(f"{self.name}: at most {self.limit} characters")
            return text
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
        if len(raw) > MAX_RAW:
            raise ValueError(f"{self.name}: the value is longer than {MAX_RAW} characters")
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
            return self.validate(raw)
        return self.validate(float(raw))


def defaults(specs: Iterable[Param]) -> dict[str, Any]:
    """``{name: default}`` for every spec."""
    return {p.name: p.default for p in specs}


def to_query(specs: Iterable[Param], values: Mapping[str, Any], *, only_changed: bool = True) -> dict[str, str]:
    """Values → ``{key: text}`` for a URL query. Defaults are left out to keep links short.

    A multi-select compares as a tuple: the widget's list ``["x1"]`` equals the
    default ``("x1",)``, so it stays out of the link (an empty one too, when the
    default is empty).
    """
    query = {}
    for p in specs:
        if p.name not in values:
            continue
        value, default = values[p.name], p.default
        if p.kind == "multi":
            value, default = tuple(value), tuple(default)
        if not only_changed or value != default:
            query[p.name] = p.encode(value)
    return query


def from_query(specs: Iterable[Param], query: Mapping[str, str | Sequence[str]]) -> tuple[dict[str, Any], list[str]]:
    """A URL query → ``(values, problems)``.

    Every spec gets a value: the URL's when it parses and fits, otherwise the
    default. ``problems`` lists what was ignored, in words for the page: the
    parameter, what it expects and the value used instead — never the link's
    own value. Unknown keys are ignored silently (other labs' or global settings).
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
        except (ValueError, TypeError, OverflowError):
            values[p.name] = p.default
            problems.append(f"{p.label} ({p.name}): expected {p.expected()}; using {p.describe(p.default)}.")
    return values, problems


def make_config(cls: type, values: Mapping[str, Any], **extra: Any) -> Any:
    """Build a frozen config dataclass from widget values, taking only its fields."""
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in {**values, **extra}.items() if k in names}
    return cls(**kwargs)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'/@%])")


def escape_markdown(text: str) -> str:
    """``text`` shown literally by Markdown and HTML: control characters and line breaks become spaces,
    every special character is backslash-escaped (no link, image, emphasis, ``:emoji:`` or HTML tag
    can form, and ``https\\://`` or ``www\\.`` is no longer auto-linked)."""
    text = "".join(" " if (ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029") else c for c in str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def safe_text(value: Any, limit: int = 40) -> str:
    """``value`` cut to ``limit`` characters and escaped (:func:`escape_markdown`).

    For the rare message that must quote what a user sent.
    """
    text = str(value)
    if len(text) > limit:
        text = text[: max(1, limit - 1)] + "…"
    return escape_markdown(text)
