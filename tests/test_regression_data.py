"""Real-valued answers: the kind decision, RealAnswers, readers and their refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.errors import CrowdlearnError, DataError
from crowdlearn.io import read
from crowdlearn.kinds import check_kind, detect_kind, encode_values
from crowdlearn.real import RealAnswers


def test_detect_kind_real_only_for_non_whole_numbers() -> None:
    assert detect_kind(np.array([0.1, 0.5, 1.0])) == "regression"
    assert detect_kind(np.array(["0.1", "1", "0.7"], dtype=object)) == "regression"
    assert detect_kind(np.array([0.0, 1.0, 2.0])) == "classification"
    assert detect_kind(np.array([0, 1, 2])) == "classification"
    assert detect_kind(np.array(["cat", "0.5"], dtype=object)) == "classification"


def test_check_kind_refuses_unknown_kind() -> None:
    assert check_kind("Regression") == "regression"
    with pytest.raises(CrowdlearnError, match="unknown answer kind 'ordinal'"):
        check_kind("ordinal")


@pytest.mark.parametrize(("value", "message"), [
    (np.nan, "missing value"), (np.inf, "infinite value inf"), ("abc", "not a number: 'abc'")])
def test_encode_values_refuses_non_finite(value: object, message: str) -> None:
    with pytest.raises(DataError, match=rf"^f.csv: line 3: field 'value': {message}"):
        encode_values(np.array([0.5, value], dtype=object), source="f.csv",
                      locate=lambda i: f"line {i + 2}")


def test_real_answers_keep_ids_sort_and_refuse_duplicates() -> None:
    a = RealAnswers.from_arrays(["t2", "t1", "t1"], ["w1", "w2", "w1"], [0.9, 0.4, 0.2])
    assert list(a.task_ids) == ["t1", "t2"] and list(a.worker_ids) == ["w1", "w2"]
    assert a.value.tolist() == [0.2, 0.4, 0.9] and a.kind == "regression"
    np.testing.assert_allclose(a.task_means(), [0.3, 0.9])
    with pytest.raises(DataError, match="1 duplicate"):
        RealAnswers.from_arrays([1, 1], ["a", "a"], [0.1, 0.2])
    last = RealAnswers.from_arrays([1, 1], ["a", "a"], [0.1, 0.2], duplicates="last")
    assert last.value.tolist() == [0.2]


def test_task_medians_brute_force() -> None:
    rng = np.random.default_rng(0)
    t = rng.integers(0, 20, 200)
    w = np.arange(200)
    v = rng.normal(size=200).round(1)
    a = RealAnswers(t, w, v, task_ids=np.arange(20))
    for i in range(20):
        got = a.task_medians()[i]
        vals = v[t == i]
        assert (np.isnan(got) and not len(vals)) or got == pytest.approx(np.median(vals))


def test_csv_with_real_values_is_detected_and_nan_refused_with_line(tmp_path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("task,worker,value\nA,u,0.25\nA,v,0.75\nB,u,1\n", encoding="utf-8")
    a = read(f)
    assert isinstance(a, RealAnswers) and a.task_means().tolist() == [0.5, 1.0]
    ints = tmp_path / "c.csv"
    ints.write_text("task,worker,label\nA,u,0\nA,v,1\n", encoding="utf-8")
    assert isinstance(read(ints), Answers)
    assert isinstance(read(ints, kind="regression"), RealAnswers)
    bad = tmp_path / "bad.csv"
    bad.write_text("task,worker,value\nA,u,0.25\nA,v,nan\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.csv: line 3: field 'value': missing value"):
        read(bad, kind="regression")
    inf = tmp_path / "inf.csv"
    inf.write_text("task,worker,value\nA,u,0.25\nA,v,inf\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"inf.csv: line 3: field 'value': infinite"):
        read(inf)


def test_parquet_and_dataframe_regression(tmp_path) -> None:
    frame = pd.DataFrame({"task": [3, 3, 7], "worker": ["a", "b", "a"],
                          "label": [0.5, 0.7, 0.1]})
    a = read(frame)
    assert isinstance(a, RealAnswers) and list(a.task_ids) == [3, 7]
    pq = tmp_path / "r.parquet"
    frame.to_parquet(pq)
    assert read(pq) == a.rename("r")


def test_crowdlayer_matrix_with_declared_missing_marker(tmp_path) -> None:
    f = tmp_path / "answers.txt"
    f.write_text("0.5 999 0.7\n999 0.2 999\n", encoding="utf-8")
    (tmp_path / "truth.txt").write_text("0.6\n0.1\n", encoding="utf-8")
    a = read(f, format="crowdlayer", missing=999, truth=tmp_path / "truth.txt")
    assert isinstance(a, RealAnswers)
    assert a.task.tolist() == [0, 0, 1] and a.worker.tolist() == [0, 2, 1]
    assert a.value.tolist() == [0.5, 0.7, 0.2] and a.truth.tolist() == [0.6, 0.1]
    with pytest.raises(DataError, match=r"answers.txt: .*missing-value marker declared"):
        read(f, format="crowdlayer", kind="regression")
    bad = tmp_path / "bad.txt"
    bad.write_text("0.5 999\n0.1 x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.txt: line 2, column 2: not a number: 'x'"):
        read(bad, format="crowdlayer", missing=999)


def test_truth_file_of_wrong_length_is_refused(tmp_path) -> None:
    f = tmp_path / "answers.txt"
    f.write_text("0.5 -1\n-1 0.2\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("0.6\n", encoding="utf-8")
    with pytest.raises(DataError, match="1 true values for 2 tasks"):
        read(f, format="crowdlayer", missing=-1, truth=tmp_path / "t.txt")


def test_movie_reviews_reads_with_the_published_mean_scores(data_dir) -> None:
    d = data_dir / "movie-reviews"
    if not d.is_dir():
        pytest.skip("movie-reviews data set not in CROWDLEARN_DATA")
    a = read(d / "answers.txt", format="crowdlayer", missing=999999999,
             truth=d / "labels_train_amt.txt")
    s = a.summary()
    assert (s["n_tasks"], s["n_workers"], s["n_answers"]) == (1500, 135, 7440)
    assert s["mean_scores"]["r2"] == pytest.approx(0.830, abs=5e-4)
    assert s["mean_scores"]["mae"] == pytest.approx(0.0607, abs=5e-5)


def test_cli_says_when_it_detected_real_values(tmp_path, capsys):
    # a stray non-whole label must not be aggregated as ratings without a word
    from crowdlearn.cli import main

    (tmp_path / "a.csv").write_text("task,worker,label\nt1,w1,1\nt1,w2,2\nt2,w1,2\nt2,w2,2.5\n")
    assert main(["aggregate", str(tmp_path / "a.csv"), "-s", "mean", "-o",
                 str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "read as real values (regression): 1 of 4" in err and "--kind classification" in err
    assert main(["aggregate", str(tmp_path / "a.csv"), "--kind", "regression", "-s", "mean",
                 "-o", str(tmp_path / "out2")]) == 0
    assert "real values" not in capsys.readouterr().err


def test_nan_spelled_in_a_numeric_column_is_refused_not_a_class(tmp_path) -> None:
    """``nan`` / ``inf`` among numbers is a missing or infinite number, with its line, whether
    the other values are real (regression detected) or whole (class indices); among text
    labels it stays a class name."""
    assert detect_kind(np.array(["0.5", "1.5", "nan"], dtype=object)) == "regression"
    assert detect_kind(np.array(["0", "1", "NaN"], dtype=object)) == "classification"
    real = tmp_path / "real.csv"
    real.write_text("task,worker,label\nA,u,0.5\nB,u,1.5\nC,v,nan\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"real.csv: line 4: field 'label': missing value"):
        read(real)
    ints = tmp_path / "ints.csv"
    ints.write_text("task,worker,label\nA,u,0\nB,u,1\nC,v,-inf\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ints.csv: line 4: field 'label': non-finite value"):
        read(ints)
    text = tmp_path / "text.csv"
    text.write_text("task,worker,label\nA,u,cat\nB,u,dog\nC,v,nan\n", encoding="utf-8")
    assert list(read(text).classes) == ["cat", "dog", "nan"]
