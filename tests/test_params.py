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
