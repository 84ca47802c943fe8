""" "Show me the code": short, runnable plain-PyTorch snippets for what is on screen.

A lab keeps a snippet template next to the function it mirrors; placeholders
``{name}`` are filled with Python literals (``repr``), so the snippet is real
code a student can paste into a notebook. Tests execute every snippet with
:func:`run_snippet` and compare its result with the lab's — the code shown is
the code that reproduces the page.

Example::

    TEMPLATE = '''
    import torch
    torch.manual_seed({seed})
    x = torch.randn({n}, 2)
    '''
    code = render_snippet(TEMPLATE, seed=0, n=100)
    namespace = run_snippet(code)   # namespace["x"] is the tensor
"""

from __future__ import annotations

import textwrap
from typing import Any


class _Literal(str):
    """A value inserted verbatim (already code), e.g. ``torch.nn.ReLU()``."""


def code(text: str) -> _Literal:
    """Mark ``text`` as code to insert as-is rather than as a Python literal."""
    return _Literal(text)


def _literal(value: Any) -> str:
    if isinstance(value, _Literal):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3e}"
    if isinstance(value, tuple | list):
        inner = ", ".join(_literal(v) for v in value)
        return (
            f"({inner},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        )
    return repr(value)


def render_snippet(template: str, **values: Any) -> str:
    """Fill ``{name}`` placeholders with Python literals and tidy the indentation.

    Raises ``SyntaxError`` if the result is not valid Python, so a broken
    template fails in tests rather than on a student's screen.
    """
    text = textwrap.dedent(template).strip("\n")
    rendered = text.format_map({k: _literal(v) for k, v in values.items()}) + "\n"
    compile(rendered, "<snippet>", "exec")
    return rendered


def run_snippet(source: str, **inject: Any) -> dict[str, Any]:
    """Execute a snippet in a fresh namespace and return that namespace.

    ``inject`` pre-defines names (e.g. an uploaded image the snippet reads as
    ``image``). Only for tests and for code we rendered ourselves.
    """
    namespace: dict[str, Any] = {"__name__": "__snippet__", **inject}
    exec(compile(source, "<snippet>", "exec"), namespace)
    return namespace
