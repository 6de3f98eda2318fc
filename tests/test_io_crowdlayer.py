"""CrowdLayer answer matrices (.npy and answers.txt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.io import read, read_crowdlayer, write, write_crowdlayer

TOY_TXT = "1 0 1 1\n1 -1 0 0\n-1 1 -1 1\n"  # peerannot's datasets/toy-data/answers.txt


def test_read_text_matrix(tmp_path: Path) -> None:
    path = tmp_path / "answers.txt"
    path.write_text(TOY_TXT)
    a = read(path)  # a header-less matrix of integers is recognised
    assert (a.n_tasks, a.n_workers, a.n_classes, len(a)) == (3, 4, 2, 9)
    assert a.task_ids.tolist() == [0, 1, 2] and a.worker_ids.tolist() == [0, 1, 2, 3]
    assert a.dense_matrix().tolist() == [[1, 0, 1, 1], [1, -1, 0, 0], [-1, 1, -1, 1]]
    assert a.name == "answers"


def test_read_comma_separated_and_float_matrices(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("1,0,-1\n-1,2,2\n")
    # commas: as likely a header-less task,worker,label table, so the format must be named
    with pytest.raises(DataError, match=r"m.csv: line 1: the first line holds only numbers"):
        read(path)
    assert read(path, format="crowdlayer").dense_matrix().tolist() == [[1, 0, -1], [-1, 2, 2]]
    np.save(tmp_path / "f.npy", np.array([[1.0, -1.0], [0.0, 2.0]]))
    assert read(tmp_path / "f.npy").dense_matrix().tolist() == [[1, -1], [0, 2]]


def test_empty_rows_and_columns_are_tasks_and_workers(tmp_path: Path) -> None:
    np.save(tmp_path / "m.npy", np.array([[0, -1, -1], [-1, -1, -1], [1, -1, 2]]))
    a = read(tmp_path / "m.npy")
    assert a.n_tasks == 3 and a.n_workers == 3 and a.n_classes == 3
    assert a.answers_per_task().tolist() == [1, 0, 2]
    assert a.answers_per_worker().tolist() == [2, 0, 1]


def test_n_classes_and_class_names(tmp_path: Path) -> None:
    np.save(tmp_path / "m.npy", np.array([[0, 1], [1, -1]]))
    assert read(tmp_path / "m.npy", n_classes=5).n_classes == 5
    named = read(tmp_path / "m.npy", classes=["no", "yes"])
    assert named.to_frame()["label"].tolist() == ["no", "yes", "yes"]
    with pytest.raises(DataError, match=r"m.npy: row 0, column 1: field 'label': label 1 is "
                       r"outside the 1 declared classes"):
        read(tmp_path / "m.npy", n_classes=1)


@pytest.mark.parametrize("name", ["answers.npy", "answers.txt"])
def test_round_trip_with_truth(tmp_path: Path, name: str) -> None:
    a = Answers(np.array([0, 0, 2, 3]), np.array([0, 2, 1, 2]), np.array([2, 0, 1, 1]),
                task_ids=np.arange(4), worker_ids=np.arange(3), classes=np.arange(3),
                truth=np.array([2, -1, -1, 0]))
    path = write(a, tmp_path / name, format="crowdlayer")
    truth_file = tmp_path / ("answers.truth.npy" if name.endswith("npy") else "answers.truth.txt")
    assert truth_file.is_file()
    back = read(path, format="crowdlayer")
    assert back == a
    assert read(path, truth=False).truth is None
    write(a.with_truth(None), path, format="crowdlayer")
    assert not truth_file.exists()


def test_text_output_is_crowdlayer_answers_txt(tmp_path: Path) -> None:
    a = read_crowdlayer(_toy(tmp_path))
    write_crowdlayer(a, tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == TOY_TXT


def test_original_ids_are_not_kept(tmp_path: Path) -> None:
    a = Answers.from_arrays(["x", "y", "y"], ["w7", "w7", "w9"], ["cat", "dog", "cat"])
    back = read(write(a, tmp_path / "m.npy"))
    assert back.task_ids.tolist() == [0, 1] and back.worker_ids.tolist() == [0, 1]
    assert back.classes.tolist() == [0, 1]
    assert back.dense_matrix().tolist() == a.dense_matrix().tolist()


def test_crowdlayer_truth_file_labels_train_txt(tmp_path: Path) -> None:
    path = _toy(tmp_path)
    (tmp_path / "labels_train.txt").write_text("1\n0\n1\n")
    assert read(path, truth=tmp_path / "labels_train.txt").truth.tolist() == [1, 0, 1]


def test_negative_values_other_than_minus_one(tmp_path: Path) -> None:
    path = tmp_path / "answers.txt"
    path.write_text("1 0 1 1\n\n1 -1 -2 0\n")
    with pytest.raises(DataError, match=r"answers.txt: line 3, column 3: negative value -2 "
                       r"\(only -1 marks a missing answer\)"):
        read(path)
    np.save(tmp_path / "m.npy", np.array([[0, -1], [-5, 1]]))
    with pytest.raises(DataError, match=r"m.npy: row 1, column 0: negative value -5"):
        read(tmp_path / "m.npy")


def test_non_integer_and_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("1 0\n1 0.5\n")
    with pytest.raises(DataError, match=r"m.txt: line 2, column 2: non-integer value 0.5"):
        read(path, format="crowdlayer")
    path.write_text("1 0\n1 x\n")
    with pytest.raises(DataError, match=r"m.txt: line 2, column 2: not a number: 'x'"):
        read(path, format="crowdlayer")
    path.write_text("1,0\n1,\n")
    with pytest.raises(DataError, match=r"m.txt: line 2, column 2: missing value"):
        read(path, format="crowdlayer")
    path.write_text("1 0\n1 0 1\n")
    with pytest.raises(DataError, match=r"m.txt: line 2: expected 2 fields, found 3"):
        read(path, format="crowdlayer")


def test_matrix_shape_and_content_errors(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.array([1, 2, 3]))
    with pytest.raises(DataError, match=r"v.npy: expected a 2-d"):
        read(tmp_path / "v.npy")
    np.save(tmp_path / "e.npy", np.full((2, 2), -1))
    with pytest.raises(DataError, match=r"e.npy: no answers"):
        read(tmp_path / "e.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match=r"junk.npy: not a readable .npy array"):
        read(tmp_path / "junk.npy")


def _toy(tmp_path: Path) -> Path:
    path = tmp_path / "answers.txt"
    path.write_text(TOY_TXT)
    return path
