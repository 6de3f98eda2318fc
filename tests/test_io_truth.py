"""Ground-truth files: task,truth tables, arrays in task order, mappings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.io import read, read_truth, write_truth


@pytest.fixture
def pets() -> Answers:
    return Answers.from_arrays(["t1", "t1", "t2", "t3"], ["a", "b", "a", "b"],
                               ["cat", "dog", "dog", "bird"])


@pytest.fixture
def ints() -> Answers:
    return Answers.from_arrays([0, 0, 1, 2], [5, 6, 5, 6], [0, 1, 1, 2])


def test_truth_table_csv_tsv_parquet(tmp_path: Path, pets: Answers) -> None:
    (tmp_path / "t.csv").write_text("task,truth\nt1,cat\nt3,bird\n")
    assert read_truth(tmp_path / "t.csv", pets).truth.tolist() == [1, -1, 0]
    (tmp_path / "t.tsv").write_text("item\ttruth\nt2\tdog\n")
    assert read_truth(tmp_path / "t.tsv", pets).truth.tolist() == [-1, 2, -1]
    pd.DataFrame({"task": ["t2"], "truth": ["cat"]}).to_parquet(tmp_path / "t.parquet")
    assert read_truth(tmp_path / "t.parquet", pets).truth.tolist() == [-1, 1, -1]


def test_truth_table_custom_columns(tmp_path: Path, pets: Answers) -> None:
    (tmp_path / "gold.csv").write_text("id,f1,class\nt2,0.3,bird\n")
    a = read_truth(tmp_path / "gold.csv", pets, task_col="id", truth_col="class")
    assert a.truth.tolist() == [-1, 0, -1]


def test_integer_truth_matches_text_ids(tmp_path: Path) -> None:
    a = Answers.from_arrays(["1", "2"], ["w", "w"], [0, 1])
    (tmp_path / "t.csv").write_text("task,truth\n2,1\n")
    assert read_truth(tmp_path / "t.csv", a).truth.tolist() == [-1, 1]


def test_npy_in_task_order_float_with_unknowns(tmp_path: Path, ints: Answers) -> None:
    np.save(tmp_path / "t.npy", np.array([2.0, np.nan, -1.0]))
    assert read_truth(tmp_path / "t.npy", ints).truth.tolist() == [2, -1, -1]


def test_npy_indexed_by_integer_task_id(tmp_path: Path) -> None:
    a = Answers.from_arrays([1, 3], [0, 0], [0, 1])
    np.save(tmp_path / "t.npy", np.array([-1, 1, -1, 0]))
    assert read_truth(tmp_path / "t.npy", a).truth.tolist() == [1, 0]
    np.save(tmp_path / "bad.npy", np.array([1, 1, -1, 0]))
    with pytest.raises(DataError, match=r"bad.npy: position 0: field 'truth': truth for task 0, "
                       r"which is not in the answers"):
        read_truth(tmp_path / "bad.npy", a)


def test_npy_wrong_length(tmp_path: Path, pets: Answers) -> None:
    np.save(tmp_path / "t.npy", np.array([0, 1]))
    with pytest.raises(DataError, match=r"t.npy: field 'truth': 2 true labels for 3 tasks"):
        read_truth(tmp_path / "t.npy", pets)


def test_npy_bad_values(tmp_path: Path, ints: Answers) -> None:
    np.save(tmp_path / "t.npy", np.array([0.5, 1, 1]))
    with pytest.raises(DataError, match=r"t.npy: position 0: field 'truth': non-integer class"):
        read_truth(tmp_path / "t.npy", ints)
    np.save(tmp_path / "t.npy", np.array([0, -3, 1]))
    with pytest.raises(DataError, match=r"t.npy: position 1: field 'truth': negative class "
                       r"index -3"):
        read_truth(tmp_path / "t.npy", ints)
    np.save(tmp_path / "t.npy", np.array([0, 1, 7]))
    with pytest.raises(DataError, match=r"t.npy: position 2: field 'truth': true class index 7 "
                       r"outside 0..2"):
        read_truth(tmp_path / "t.npy", ints)


def test_one_index_per_line_text(tmp_path: Path, ints: Answers) -> None:
    (tmp_path / "labels_train.txt").write_text("2\n\n0\n-1\n")
    assert read_truth(tmp_path / "labels_train.txt", ints).truth.tolist() == [2, 0, -1]
    (tmp_path / "bad.txt").write_text("2\n0\n1.5\n")
    with pytest.raises(DataError, match=r"bad.txt: line 3: field 'truth': non-integer class"):
        read_truth(tmp_path / "bad.txt", ints)


def test_unknown_task_and_class(tmp_path: Path, pets: Answers) -> None:
    (tmp_path / "t.csv").write_text("task,truth\nt1,cat\nt9,dog\n")
    with pytest.raises(DataError, match=r"t.csv: line 3: field 'task': unknown task 't9'"):
        read_truth(tmp_path / "t.csv", pets)
    (tmp_path / "t.csv").write_text("task,truth\nt1,cow\n")
    with pytest.raises(DataError, match=r"t.csv: line 2: field 'truth': label 'cow' is not one "
                       r"of the answers' classes \('bird', 'cat', 'dog'\)"):
        read_truth(tmp_path / "t.csv", pets)


def test_contradicting_truth_rows(tmp_path: Path, pets: Answers) -> None:
    (tmp_path / "t.csv").write_text("task,truth\nt1,cat\nt2,dog\nt1,dog\n")
    with pytest.raises(DataError, match=r"t.csv: line 4: field 'truth': task 't1' has two "
                       r"different true labels"):
        read_truth(tmp_path / "t.csv", pets)


def test_truth_file_missing_column_and_empty(tmp_path: Path, pets: Answers) -> None:
    (tmp_path / "t.csv").write_text("task,label\nt1,cat\n")
    with pytest.raises(DataError, match=r"t.csv: line 1: field 'truth': missing column 'truth'"):
        read_truth(tmp_path / "t.csv", pets)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e.csv: empty file"):
        read_truth(tmp_path / "e.csv", pets)


def test_mapping_series_and_array(tmp_path: Path, pets: Answers) -> None:
    path = tmp_path / "a.csv"
    pets.to_frame().to_csv(path, index=False)
    assert read(path, truth={"t2": "dog"}).truth.tolist() == [-1, 2, -1]
    assert read(path, truth=pd.Series({"t1": "bird"})).truth.tolist() == [0, -1, -1]
    assert read(path, truth=np.array([1, 1, -1])).truth.tolist() == [1, 1, -1]


def test_write_truth_npy_and_csv(tmp_path: Path, pets: Answers) -> None:
    a = pets.with_truth(np.array([1, -1, 0]))
    write_truth(a, tmp_path / "t.npy")
    saved = np.load(tmp_path / "t.npy")
    assert saved.dtype == np.int64 and saved.tolist() == [1, -1, 0]
    assert read_truth(tmp_path / "t.npy", pets) == a
    write_truth(a, tmp_path / "t.csv")
    assert read_truth(tmp_path / "t.csv", pets) == a
    with pytest.raises(DataError, match=r"no ground truth to write"):
        write_truth(pets, tmp_path / "none.csv")
