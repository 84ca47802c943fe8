"""lab.codegen: snippets are valid Python with literal values, and they run."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lab.codegen import code, render_snippet, run_snippet

TEMPLATE = """
    import torch
    import torch.nn.functional as F
    torch.manual_seed({seed})
    X = torch.randn({n}, 2)
    w = torch.tensor({w})
    act = {act}
    out = act(X @ w)
"""


def test_snippet_is_real_code_and_reproduces_the_result():
    source = render_snippet(TEMPLATE, seed=3, n=5, w=[0.5, -1.25], act=code("F.relu"))
    assert "torch.manual_seed(3)" in source and "[0.5, -1.25]" in source and "act = F.relu" in source
    assert not source.startswith(" ")
    namespace = run_snippet(source)
    torch.manual_seed(3)
    expected = F.relu(torch.randn(5, 2) @ torch.tensor([0.5, -1.25]))
    torch.testing.assert_close(namespace["out"], expected)


def test_strings_are_quoted_and_small_floats_keep_precision():
    source = render_snippet("a = {a}\nb = {b}\nc = {c}", a="it's", b=1e-5, c=(1,))
    ns = run_snippet(source)
    assert ns["a"] == "it's" and ns["b"] == 1e-5 and ns["c"] == (1,)


def test_a_broken_template_fails_loudly():
    with pytest.raises(SyntaxError):
        render_snippet("x = ({a}", a=1)


def test_injected_names_are_visible():
    ns = run_snippet("y = image * 2\n", image=21)
    assert ns["y"] == 42
