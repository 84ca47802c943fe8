"""lab.params: specs validate, and settings round-trip through a URL query."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lab.params import Param, defaults, from_query, make_config, to_query

SPECS = (
    Param("lr", "Learning rate", 0.1, kind="log", lo=1e-4, hi=10.0),
    Param("steps", "Steps", 100, kind="int", lo=1, hi=5000),
    Param("noise", "Noise", 0.1, kind="float", lo=0.0, hi=0.5),
    Param("opt", "Optimiser", "gd", kind="choice", options=("gd", "sgd", "adam")),
    Param("features", "Features", ("x1", "x2"), kind="multi", options=("x1", "x2", "x1^2", "sin x1")),
    Param("discretize", "Discretize", False, kind="bool"),
    Param("k", "Kernel size", 3, kind="choice", options=(3, 5, 7)),
)


def test_round_trip_of_changed_values():
    values = {"lr": 0.002, "steps": 250, "noise": 0.35, "opt": "adam", "features": ("x1", "sin x1"),
              "discretize": True, "k": 5}  # fmt: skip
    query = to_query(SPECS, values)
    assert query == {"lr": "0.002", "steps": "250", "noise": "0.35", "opt": "adam", "features": "x1,sin x1",
                     "discretize": "1", "k": "5"}  # fmt: skip
    back, problems = from_query(SPECS, query)
    assert back == values and problems == []


def test_defaults_are_left_out_of_links():
    assert to_query(SPECS, defaults(SPECS)) == {}
    assert from_query(SPECS, {}) == (defaults(SPECS), [])


@pytest.mark.parametrize(
    "query, name",
    [({"lr": "banana"}, "lr"), ({"lr": "100"}, "lr"), ({"steps": "2.5"}, "steps"), ({"steps": "-3"}, "steps"),
     ({"opt": "rmsprop"}, "opt"), ({"features": "x1,evil"}, "features"), ({"discretize": "maybe"}, "discretize"),
     ({"noise": "nan"}, "noise"), ({"k": "4"}, "k")],
)  # fmt: skip
def test_bad_link_values_fall_back_to_defaults_with_a_message(query, name):
    values, problems = from_query(SPECS, query)
    assert values[name] == defaults(SPECS)[name]
    assert len(problems) == 1 and name in problems[0]


def test_unknown_keys_are_ignored_and_repeated_keys_take_the_last():
    values, problems = from_query(SPECS, {"seed": "3", "steps": ["10", "20"]})
    assert values["steps"] == 20 and problems == []


def test_a_wrong_default_is_a_programming_error():
    with pytest.raises(ValueError):
        Param("lr", "lr", 100.0, kind="log", lo=1e-4, hi=10.0)
    with pytest.raises(ValueError):
        Param("opt", "opt", "x", kind="choice", options=("a",))


def test_make_config_takes_only_the_dataclass_fields():
    @dataclass(frozen=True)
    class Config:
        lr: float
        steps: int
        seed: int = 0

    cfg = make_config(Config, {"lr": 0.5, "steps": 3, "noise": 0.1}, seed=7)
    assert cfg == Config(0.5, 3, 7)


# --- hostile links: repeated values, long values, and nothing echoed ------------------------------------------------

HOSTILE_VALUES = [
    "[click here](https://evil.example/login)",
    "![pixel](https://evil.example/t.png)",
    '<img src="https://evil.example/t.png">',
    "<a href='https://evil.example'>x</a>",
    "https://evil.example/phish",
    "www.evil.example",
    ":red[**URGENT**] :material/warning:",
    "$\\href{https://evil.example}{x}$",
    "x1,x1," * 500,
    "9" * 5000,
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_problems_name_the_setting_and_never_echo_the_value(value):
    query = {p.name: value for p in SPECS}
    values, problems = from_query(SPECS, query)
    assert values == defaults(SPECS)
    assert len(problems) == len(SPECS)
    for problem, p in zip(problems, SPECS, strict=True):
        assert problem.startswith(f"{p.label} ({p.name}): expected ")
        assert "evil" not in problem and "](" not in problem and "<" not in problem and "$" not in problem
        assert len(problem) < 200


def test_multi_values_are_deduplicated_and_capped():
    values, problems = from_query(SPECS, {"features": "x1,x1,sin x1,x1,sin x1"})
    assert values["features"] == ("x1", "sin x1") and problems == []
    # A repeated value can never make a list longer than the options: 1,000 copies give one entry.
    values, problems = from_query(SPECS, {"features": ",".join(["x1"] * 300)})
    assert values["features"] == ("x1",) and problems == []
    capped = Param("variants", "Variants", ("a",), kind="multi", options=("a", "b", "c", "d"), max_len=2)
    assert capped.limit == 2
    values, problems = from_query([capped], {"variants": "a,b,c"})
    assert values["variants"] == ("a",) and "up to 2 of a, b, c, d" in problems[0]
    assert capped.validate(["b", "b", "a", "b"]) == ("b", "a")


def test_text_and_raw_values_are_capped():
    note = Param("note", "Note", "", kind="text", max_len=10)
    assert from_query([note], {"note": "short"}) == ({"note": "short"}, [])
    values, problems = from_query([note], {"note": "x" * 11})
    assert values["note"] == "" and "at most 10 characters" in problems[0]
    assert Param("t", "T", "", kind="text").limit == 200
    values, problems = from_query(SPECS, {"steps": " " * 3000 + "10"})  # longer than MAX_RAW: not parsed
    assert values["steps"] == 100 and len(problems) == 1


def test_safe_text_escapes_and_cuts():
    from lab.params import escape_markdown, safe_text

    shown = safe_text("[click](https://evil.example) " * 3)
    assert len(shown.replace("\\", "")) == 40 and shown.endswith("…")
    assert "](" not in shown and "https://" not in shown
    assert escape_markdown("a\nb<c>") == "a b\\<c\\>"


def test_multiselect_lists_equal_to_the_default_stay_out_of_the_link():
    # Streamlit's multiselect returns a list; the default is a tuple: equal values must not leak into links.
    empty = Param("features", "Features", (), kind="multi", options=("x1", "x2"))
    assert to_query([empty], {"features": []}) == {}
    assert to_query(SPECS, {"features": ["x1", "x2"]}) == {}
    assert to_query(SPECS, {"features": []}) == {"features": ""}  # emptied on purpose: kept, and it round-trips
    assert from_query(SPECS, {"features": ""})[0]["features"] == ()
