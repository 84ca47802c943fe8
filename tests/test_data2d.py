"""lab.data2d: generators are seeded and shaped right; CSV uploads are validated with clear messages."""

from __future__ import annotations

import numpy as np
import pytest

from lab.data2d import CLASSIFICATION, DATASETS, DataInputError, make_dataset, make_points, parse_csv, to_csv


@pytest.mark.parametrize("name", DATASETS)
def test_every_dataset_is_seeded_and_well_formed(name):
    X, y = make_points(name, n=120, noise=0.05, seed=4)
    X2, y2 = make_points(name, n=120, noise=0.05, seed=4)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (120, 2) and X.dtype == np.float32 and np.isfinite(X).all()
    assert np.abs(X).max() < 2.5
    if name in CLASSIFICATION:
        assert set(np.unique(y)) == {0, 1}
    assert not np.array_equal(X, make_points(name, n=120, noise=0.05, seed=5)[0])


def test_multiclass_spiral_and_split():
    data = make_dataset("spiral", n=300, num_classes=3, train_fraction=0.8, seed=0)
    assert data.num_classes == 3
    assert len(data.X_train) == 240 and len(data.X_test) == 60


def test_circles_are_not_linearly_separable_but_radially_are():
    X, y = make_points("circles", n=400, noise=0.0, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 1].max() < r[y == 0].min()


def test_csv_round_trip():
    X, y = make_points("moons", n=50, seed=0)
    X2, y2 = parse_csv(to_csv(X, y))
    np.testing.assert_allclose(X2, X, atol=1e-5)
    np.testing.assert_array_equal(y2, y)


def test_csv_label_column_found_by_name_and_no_header_accepted():
    X, y = parse_csv(b"label,a,b\n1,0.5,0.25\n0,1,2\n")
    np.testing.assert_array_equal(y, [1, 0])
    np.testing.assert_allclose(X, [[0.5, 0.25], [1, 2]])
    X, y = parse_csv(b"0.5,0.25,1\n1,2,0\n")
    np.testing.assert_array_equal(y, [1, 0])


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"x1,label\n1,0\n2,1\n", "2 column"),
        (b"x1;x2;label\n1;2;0\n3;4;1\n", "semicolons"),
        (b"x1,x2,label\n1,abc,0\n3,4,1\n", "not a number"),
        (b"x1,x2,label\n1,nan,0\n3,4,1\n", "NaN or infinite"),
        (b"x1,x2,label\n1,inf,0\n3,4,1\n", "NaN or infinite"),
        (b"x1,x2,label\n1,2,1\n3,4,1\n", "at least two classes"),
        (b"x1,x2,label\n1,2,0\n3,4,2\n", "0 or 1"),
        (b"x1,x2,label\n1,2\n3,4,1\n", "has 2 values"),
        (b"x1,x2,label\n" + b"1,2,0\n" * 10_001, "limit is 10,000"),
        (b"\xff\xfe\x00binary", "not a text file"),
        (b"\xef\xbb\xbf", "empty"),  # only a byte-order mark
        ("\u3000\u00a0\n\u2003\n".encode(), "empty"),  # only Unicode spaces
        (b"x1,x2,label\n" + b"1" * 140_000 + b",2,0\n3,4,1\n", "characters long"),  # a field over csv's 128 KB
        (b'x1,x2,label\n"1\x00",2,0\n3,4,1\n', r'not a number \(\\"1 \\",2,0\)'),  # control chars as spaces, escaped
        (b"x1,x2,label\n1,2,0\n" + b"," * 500 + b"\n", "more than 100 columns"),
        (b"x1,x2,label\n[x](https://e.example),2,0\n3,4,1\n", r"not a number \(\\\[x\\\]\\\(https"),  # quoted, escaped
        (b"x1,x2,label\n" + b"1,2,0\n" * 1_000_000, "limited to 5 MB"),
    ],
)
def test_csv_problems_get_clear_messages(data, words):
    with pytest.raises(DataInputError, match=words):
        parse_csv(data, "points.csv")


def test_multiclass_labels_allowed_when_asked():
    _, y = parse_csv(b"x1,x2,label\n1,2,0\n3,4,2\n5,6,1\n", max_classes=3)
    assert sorted(y) == [0, 1, 2]


def test_csv_is_checked_line_by_line_before_rows_are_built(monkeypatch):
    # A bad line 3 must be reported without splitting the million lines after it.
    import csv

    import lab.data2d as d2

    split = []
    original = csv.reader

    def counting(lines, *args, **kwargs):
        split.append(1)
        return original(lines, *args, **kwargs)

    monkeypatch.setattr(d2.csv, "reader", counting)
    data = b"x1,x2,label\n1,2,0\n1,2\n" + b"3,4,1\n" * 500_000
    with pytest.raises(DataInputError, match=r"Line 3 .* has 2 values"):
        parse_csv(data, "big.csv")
    assert len(split) == 3


def test_csv_results_and_failures_are_remembered_by_digest(monkeypatch):
    import lab.data2d as d2

    calls = []
    original = d2._parse_csv
    monkeypatch.setattr(d2, "_parse_csv", lambda *a: calls.append(1) or original(*a))
    good, bad = b"x1,x2,label\n1,2,0\n3,4,1\n", b"x1,x2,label\n1,2\n"
    for _ in range(3):
        X, _ = parse_csv(good, "memo.csv")
        X[0, 0] = 99  # a caller changing its copy does not change the next caller's
        with pytest.raises(DataInputError):
            parse_csv(bad, "memo.csv")
    assert parse_csv(good, "memo.csv")[0][0, 0] == 1
    assert len(calls) == 2
