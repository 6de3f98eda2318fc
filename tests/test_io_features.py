"""Reading task features and aligning them with the answers (crowdlearn.io.features)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.errors import DataError
from crowdlearn.io import read_features, read_table, read_truth
from crowdlearn.io.features import Features


def answers_for(task_ids: list) -> Answers:
    """One answer per task, from worker "w"."""
    return Answers.from_arrays(task_ids, ["w"] * len(task_ids), [0] * len(task_ids))


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------------- alignment
def test_shuffled_rows_come_back_in_task_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ids = np.arange(10, 30)
    X = rng.normal(size=(len(ids), 3))
    order = rng.permutation(len(ids))
    frame = pd.DataFrame({"task": ids[order], "a": X[order, 0], "b": X[order, 1],
                          "c": X[order, 2]})
    frame.to_csv(tmp_path / "f.csv", index=False)
    answers = answers_for(list(ids[::-1]))  # task_ids are sorted: 10..29
    feats = read_features(tmp_path / "f.csv", answers)
    assert feats.X.dtype == np.float32 and feats.X.shape == (20, 3)
    assert np.array_equal(feats.task_ids, answers.task_ids)
    np.testing.assert_allclose(feats.X, X.astype(np.float32))
    assert feats.columns == ("a", "b", "c")
    assert len(feats.extra_ids) == 0 and feats.labels is None
    # unaligned: file order; align() gives the same as passing the answers
    raw = read_features(tmp_path / "f.csv")
    assert np.array_equal(raw.task_ids, ids[order])
    again = raw.align(answers)
    assert np.array_equal(again.X, feats.X)
    # any order of ids
    wanted = [25, 11, 17]
    part = raw.align(wanted)
    np.testing.assert_allclose(part.X, X[[15, 1, 7]].astype(np.float32))
    assert sorted(part.extra_ids.tolist()) == sorted(set(ids.tolist()) - set(wanted))


def test_missing_tasks_error_names_file_field_ids_and_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "feats.csv", "item,x\na,1\nb,2\n")
    answers = answers_for(["a", "b", "c", "d", "e", "f"])
    with pytest.raises(DataError) as err:
        read_features(path, answers)
    text = str(err.value)
    assert str(path) in text and "field 'item'" in text
    assert "no features for 4 of 6 tasks" in text
    assert "'c', 'd', 'e', ..." in text and "'f'" not in text


def test_extra_ids_are_kept(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", "id,x\nz,9\na,1\nq,5\nb,2\n")
    feats = read_features(path, answers_for(["b", "a"]))
    assert feats.task_ids.tolist() == ["a", "b"]
    assert feats.X[:, 0].tolist() == [1.0, 2.0]
    assert sorted(feats.extra_ids.tolist()) == ["q", "z"]


def test_ids_match_with_the_answers_rules() -> None:
    answers = answers_for([3, 7, 12])  # integer ids
    frame = pd.DataFrame({"task": ["12", "3", "7"], "x": [1.0, 2.0, 3.0]})
    assert read_features(frame, answers).X[:, 0].tolist() == [2.0, 3.0, 1.0]
    # "007" is text, not the integer 7 (as for the answers and truth readers)
    frame = pd.DataFrame({"task": ["12", "3", "007"], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"no features for 1 of 3 tasks \(7\)"):
        read_features(frame, answers)
    # whole floats are integer ids; text answers ids find integer feature ids
    frame = pd.DataFrame({"task": [3.0, 7.0, 12.0], "x": [1.0, 2.0, 3.0]})
    assert read_features(frame, answers).X[:, 0].tolist() == [1.0, 2.0, 3.0]
    text_answers = answers_for(["7", "x"])
    frame = pd.DataFrame({"task": [7, 8], "x": [1.0, 2.0]})
    with pytest.raises(DataError, match="'x'"):
        read_features(frame, text_answers)


# ---------------------------------------------------------------------- formats
def test_npy_rows_are_tasks_in_order(tmp_path: Path) -> None:
    X = np.arange(24, dtype=np.float64).reshape(4, 2, 3)
    np.save(tmp_path / "x.npy", X)
    answers = answers_for(["d", "b", "c", "a"])
    feats = read_features(tmp_path / "x.npy", answers)
    assert feats.X.shape == (4, 2, 3) and feats.X.dtype == np.float32
    assert feats.task_ids.tolist() == ["a", "b", "c", "d"] and feats.columns is None
    alone = read_features(tmp_path / "x.npy")
    assert alone.positional and alone.task_ids.tolist() == [0, 1, 2, 3]
    with pytest.raises(DataError) as err:
        read_features(tmp_path / "x.npy", answers_for(["a", "b", "c"]))
    assert "x.npy" in str(err.value) and "4 rows" in str(err.value) and "3 tasks" in str(err.value)


def test_npz_with_and_without_ids(tmp_path: Path) -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.savez(tmp_path / "f.npz", X=X, task_ids=np.array(["c", "a", "b"]))
    feats = read_features(tmp_path / "f.npz", answers_for(["a", "b"]), dtype=np.float64)
    assert feats.X.dtype == np.float64 and feats.X.tolist() == [[3.0, 4.0], [5.0, 6.0]]
    assert feats.extra_ids.tolist() == ["c"]
    np.savez(tmp_path / "g.npz", X=X)
    assert read_features(tmp_path / "g.npz", answers_for([5, 6, 7])).X.shape == (3, 2)
    np.savez(tmp_path / "h.npz", features=X)
    with pytest.raises(DataError, match="no array 'X'"):
        read_features(tmp_path / "h.npz")
    bad = X.copy()
    bad[1, 1] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(DataError, match=r"bad\.npy: row 1, column 1: field 'X': non-finite"):
        read_features(tmp_path / "bad.npy")


def test_tsv_and_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"id": ["s2", "s1"], "f0": [0.5, 1.5], "f1": [2, 3],
                          "name": ["two", "one"]})
    frame.to_csv(tmp_path / "f.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "f.parquet", index=False)
    for name in ("f.tsv", "f.parquet"):
        feats = read_features(tmp_path / name, np.array(["s1", "s2"]))
        assert feats.columns == ("f0", "f1")  # the text column is not a feature
        assert feats.X.tolist() == [[1.5, 3.0], [0.5, 2.0]]


# ---------------------------------------------------------------------- columns and labels
def test_label_and_worker_columns_are_not_features() -> None:
    frame = pd.DataFrame({"task": [1, 2], "annotator": [5, 6], "x": [0.1, 0.2],
                          "class": [0, 1]})
    feats = read_features(frame)
    assert feats.columns == ("x",) and feats.labels.tolist() == [0, 1]
    # a numeric "label" column is a feature, a text one the label
    feats = read_features(pd.DataFrame({"task": [1, 2], "x": [0.1, 0.2], "label": [3, 4]}))
    assert feats.columns == ("x", "label") and feats.labels is None
    feats = read_features(pd.DataFrame({"task": [1, 2], "x": [0.1, 0.2],
                                        "label": ["cat", "dog"]}))
    assert feats.columns == ("x",) and feats.labels.tolist() == ["cat", "dog"]
    # explicit choices
    feats = read_features(frame, columns=["x", "annotator"], label_col=False)
    assert feats.columns == ("x", "annotator") and feats.labels is None
    feats = read_features(frame, label_col="x")
    assert feats.columns == ("class",) and feats.labels.tolist() == [0.1, 0.2]


def test_id_column_choice(tmp_path: Path) -> None:
    frame = pd.DataFrame({"item": ["b", "a"], "id": [1, 2], "x": [1.0, 2.0]})
    assert read_features(frame).task_ids.tolist() == [1, 2]  # "id" comes before "item"
    assert read_features(frame, id_col="item", columns=["x"]).task_ids.tolist() == ["b", "a"]
    path = write_csv(tmp_path / "noid.csv", "x,y\n1,2\n3,4\n")
    with pytest.raises(DataError, match=r"noid\.csv: line 1: field 'task': no id column"):
        read_features(path)
    feats = read_features(path, answers_for(["p", "q"]), id_col=None)
    assert feats.task_ids.tolist() == ["p", "q"] and feats.X.tolist() == [[1, 2], [3, 4]]
    with pytest.raises(DataError, match=r"missing column 'nope'"):
        read_features(path, id_col=None, columns=["x", "nope"])


def test_non_finite_and_non_numeric_values_name_line_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", "task,a,b\n1,0.5,1\n2,0.7,inf\n3,0.1,2\n")
    with pytest.raises(DataError) as err:
        read_features(path)
    assert str(err.value) == f"{path}: line 3: field 'b': non-finite value 'inf'"
    path = write_csv(tmp_path / "g.csv", "task,a,b\n1,0.5,1\n2,,3\n")
    with pytest.raises(DataError, match=r"g\.csv: line 3: field 'a': missing value"):
        read_features(path)
    path = write_csv(tmp_path / "h.csv", "task,a,b\n1,0.5,nan\n")
    with pytest.raises(DataError, match=r"line 2: field 'b': non-finite value 'nan'"):
        read_features(path)
    path = write_csv(tmp_path / "t.csv", "task,a,note\n1,0.5,x\n2,0.25,y\n")
    assert read_features(path).columns == ("a",)  # a text column is not a feature...
    with pytest.raises(DataError, match=r"t\.csv: line 2: field 'note': non-numeric value 'x'"):
        read_features(path, columns=["a", "note"])  # ... unless asked for
    path = write_csv(tmp_path / "m.csv", "task,a,b\n1,0.5,1\n2,0.7,oops\n")
    with pytest.raises(DataError, match=r"line 3: field 'b': column mixes numbers and text"):
        read_features(path)
    frame = pd.DataFrame({"task": [1, 2], "a": [1.0, np.nan]})
    with pytest.raises(DataError, match=r"DataFrame: row 1: field 'a': missing value"):
        read_features(frame)


def test_repeated_ids_must_have_identical_features(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "per_answer.csv",
                     "id,annotator,f0,f1,class\n"
                     "s1,w1,0.5,1,rock\n"
                     "s2,w1,0.1,2,pop\n"
                     "s1,w2,0.5,1,pop\n"
                     "s2,w3,0.1,2,pop\n")
    feats = read_features(path)
    assert feats.task_ids.tolist() == ["s1", "s2"]
    assert np.array_equal(feats.X, np.float32([[0.5, 1], [0.1, 2]]))
    assert feats.labels is None  # per-answer labels are not per-task labels
    with pytest.raises(DataError, match=r"line 4: field 'class': id 's1' has label 'pop' here "
                                        r"but 'rock' at line 2"):
        read_features(path, label_col="class")
    path = write_csv(tmp_path / "bad.csv", "id,f0\ns1,0.5\ns2,1\ns1,0.6\n")
    with pytest.raises(DataError) as err:
        read_features(path)
    assert str(err.value).startswith(f"{path}: line 4: field 'id': id 's1' has features "
                                     f"different from its first row at line 2")


def test_features_object() -> None:
    feats = Features(X=np.zeros((3, 4, 2), dtype=np.float32), task_ids=np.arange(3))
    assert len(feats) == 3 and feats.n_features == 8
    with pytest.raises(AttributeError):
        feats.X = np.ones(3)  # type: ignore[misc]
    with pytest.raises(ValueError, match="floating"):
        read_features(pd.DataFrame({"task": [1], "x": [1.0]}), dtype=np.int64)


# ---------------------------------------------------------------------- real data
def test_music_features(data_dir: Path) -> None:
    music = data_dir / "music"
    answers = read_table(music / "music_genre_mturk.csv", task_col="id",
                         worker_col="annotator", label_col="class")
    answers = read_truth(music / "music_genre_gold.csv", answers, task_col="id",
                         truth_col="class")
    gold = read_features(music / "music_genre_gold.csv", answers, label_col="class")
    assert gold.X.shape == (700, 124) and gold.X.dtype == np.float32
    assert gold.columns == tuple(f"feature{i}" for i in range(124))
    assert np.array_equal(gold.task_ids, answers.task_ids) and len(gold.extra_ids) == 0
    # the gold labels are the truth attached to the answers, task by task
    assert np.array_equal(answers.classes[answers.truth], gold.labels.astype(str))
    raw = pd.read_csv(music / "music_genre_gold.csv").set_index("id")
    expected = raw.loc[answers.task_ids, list(gold.columns)].to_numpy(np.float32)
    assert np.array_equal(gold.X, expected)
    # auto-detected label column
    auto = read_features(music / "music_genre_gold.csv", answers)
    assert np.array_equal(auto.X, gold.X) and np.array_equal(auto.labels, gold.labels)
    test = read_features(music / "music_genre_test.csv")
    assert test.X.shape == (300, 124) and len(set(test.labels)) == 10
    assert not set(test.task_ids) & set(answers.task_ids)
    # one row per answer, the same features per song
    per_answer = read_features(music / "music_genre_mturk.csv", answers)
    assert per_answer.X.shape == (700, 124) and per_answer.labels is None
    assert np.array_equal(per_answer.X, gold.X)
    # the test songs have no answers
    with pytest.raises(DataError, match=r"music_genre_test\.csv: field 'id': no features for "
                                        r"700 of 700 tasks"):
        read_features(music / "music_genre_test.csv", answers)
