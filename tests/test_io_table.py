"""Task/worker/label tables: CSV, TSV, Parquet, DataFrames and truth-inference folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.io import (
    read,
    read_table,
    read_truth_inference,
    sibling_truth,
    write,
    write_table,
    write_truth_inference,
)


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def pets() -> Answers:
    return Answers.from_arrays(
        ["t2", "t1", "t1", "t3", "t2"], ["w1", "w2", "w1", "w3", "w3"],
        ["dog", "cat", "cat", "bird", "dog"], truth={"t1": "cat", "t3": "dog"}, name="pets",
    )


def test_read_csv_with_text_ids_and_classes(tmp_path: Path) -> None:
    path = write_text(tmp_path / "answers.csv",
                      "task,worker,label\nt1,w1,cat\nt1,w2,dog\nt2,w1,dog\n")
    a = read(path)
    assert (a.n_tasks, a.n_workers, a.n_classes, len(a)) == (2, 2, 2, 3)
    assert a.task_ids.tolist() == ["t1", "t2"]
    assert a.classes.tolist() == ["cat", "dog"]
    assert a.name == "answers"
    assert a.truth is None


def test_integer_ids_stay_integers(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "task,worker,label\n10,3,1\n2,3,0\n2,40,2\n")
    a = read(path)
    assert a.task_ids.dtype.kind == "i" and a.task_ids.tolist() == [2, 10]
    assert a.worker_ids.tolist() == [3, 40]
    assert a.classes.tolist() == [0, 1, 2]
    assert a.to_frame().values.tolist() == [[2, 3, 0], [2, 40, 2], [10, 3, 1]]


def test_item_column_and_custom_names(tmp_path: Path) -> None:
    path = write_text(tmp_path / "label.csv", "item,worker,label\n0,0,1\n1,0,0\n")
    assert read(path).n_tasks == 2
    custom = write_text(tmp_path / "raw.csv",
                        "id,annotator,extra,class\nsong1,A,9.5,pop\nsong1,B,1.0,rock\n")
    a = read(custom, task_col="id", worker_col="annotator", label_col="class")
    assert a.to_frame().values.tolist() == [["song1", "A", "pop"], ["song1", "B", "rock"]]


def test_tsv_and_txt_with_tabs(tmp_path: Path) -> None:
    text = "task\tworker\tlabel\na,x,y\tw 1\tyes\n"
    for name in ("a.tsv", "a.txt"):
        a = read(write_text(tmp_path / name, text))
        assert a.task_ids.tolist() == ["a,x,y"]
        assert a.worker_ids.tolist() == ["w 1"]


def test_text_that_pandas_would_convert_stays_text(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv",
                      "task,worker,label\nNA,None,true\nnull,n/a,false\ninf,x,inf\n")
    a = read(path)
    assert sorted(a.task_ids.tolist()) == ["NA", "inf", "null"]
    assert sorted(a.worker_ids.tolist()) == ["None", "n/a", "x"]
    assert a.classes.tolist() == ["false", "inf", "true"]


def test_non_integer_numeric_ids_are_text(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "task,worker,label\n1.5,2,0\n2.25,2,1\n")
    assert read(path).task_ids.tolist() == ["1.5", "2.25"]


def test_quoted_fields(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", 'task,worker,label\n"a,b","say ""hi""",x\n')
    a = read(path)
    assert a.task_ids.tolist() == ["a,b"] and a.worker_ids.tolist() == ['say "hi"']


def test_read_dataframe(pets: Answers) -> None:
    frame = pets.to_frame().rename(columns={"task": "item"})
    a = read(frame)
    assert a == pets.with_truth(None)
    b = read(frame, truth={"t1": "cat", "t3": "dog"})
    assert b == pets


def test_dataframe_missing_column() -> None:
    with pytest.raises(DataError, match=r"DataFrame: field 'label': missing column 'label'"):
        read(pd.DataFrame({"task": [1], "worker": [2], "answer": [0]}))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_round_trip_with_truth(tmp_path: Path, pets: Answers, suffix: str) -> None:
    path = write(pets, tmp_path / f"pets{suffix}")
    assert path == tmp_path / f"pets{suffix}"
    assert sibling_truth(path).is_file()
    back = read(path)
    assert back == pets
    assert back.classes.tolist() == ["bird", "cat", "dog"]
    assert back.name == "pets"
    assert read(path, truth=False).truth is None


def test_round_trip_integer_ids(tmp_path: Path) -> None:
    a = Answers.from_arrays([5, 5, 7, -2], [1, 2, 1, 1], [0, 2, 1, 1], truth={7: 2, -2: 0})
    for fmt in ("csv", "tsv", "parquet"):
        assert read(write(a, tmp_path / f"x.{fmt}")) == a


def test_truth_sibling_written_and_stale_one_removed(tmp_path: Path, pets: Answers) -> None:
    path = tmp_path / "pets.csv"
    write(pets, path)
    truth_file = tmp_path / "pets.truth.csv"
    assert truth_file.read_text().splitlines() == ["task,truth", '"t1","cat"', '"t3","dog"']
    write(pets.with_truth(None), path)
    assert not truth_file.exists()
    assert read(path).truth is None


def test_write_csv_content_and_no_temp_files(tmp_path: Path, pets: Answers) -> None:
    write_table(pets.with_truth(None), tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "task,worker,label"
    assert len(lines) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_classes_are_widened_by_truth(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "task,worker,label\n1,1,0\n2,1,1\n")
    write_text(tmp_path / "a.truth.csv", "task,truth\n1,3\n")
    a = read(path)
    assert a.classes.tolist() == [0, 1, 2, 3]
    assert a.truth.tolist() == [3, -1]
    text = write_text(tmp_path / "b.csv", "task,worker,label\n1,1,cat\n2,1,dog\n")
    write_text(tmp_path / "b.truth.csv", "task,truth\n1,ant\n2,dog\n")
    b = read(text)
    assert b.classes.tolist() == ["ant", "cat", "dog"]
    assert b.to_frame()["label"].tolist() == ["cat", "dog"]
    assert b.truth.tolist() == [0, 2]


def test_declared_classes_and_n_classes(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "task,worker,label\n1,1,0\n2,1,1\n")
    assert read(path, n_classes=4).classes.tolist() == [0, 1, 2, 3]
    named = write_text(tmp_path / "b.csv", "task,worker,label\n1,1,dog\n")
    assert read(named, classes=["cat", "dog"]).label.tolist() == [1]


def test_duplicates_policies(tmp_path: Path) -> None:
    path = write_text(tmp_path / "d.csv",
                      "task,worker,label\nt1,w1,cat\nt1,w2,dog\n\nt2,w1,dog\nt1,w1,cow\n")
    with pytest.raises(DataError, match=r"d.csv: 1 duplicate .*t1.*w1.* at line 2 and line 6"):
        read(path)
    first = read(path, duplicates="first").to_frame().values.tolist()
    last = read(path, duplicates="last").to_frame().values.tolist()
    every = read(path, duplicates="all").to_frame().values.tolist()
    assert first == [["t1", "w1", "cat"], ["t1", "w2", "dog"], ["t2", "w1", "dog"]]
    assert last == [["t1", "w1", "cow"], ["t1", "w2", "dog"], ["t2", "w1", "dog"]]
    assert every == [["t1", "w1", "cat"], ["t1", "w1", "cow"], ["t1", "w2", "dog"],
                     ["t2", "w1", "dog"]]


def test_duplicates_all_round_trip(tmp_path: Path) -> None:
    a = Answers.from_arrays([1, 1, 1], [2, 2, 3], [0, 1, 1], duplicates="all")
    assert read(write(a, tmp_path / "d.csv"), duplicates="all") == a


def test_parquet_needs_pyarrow(tmp_path: Path, pets: Answers,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match=r"x.parquet: Parquet needs pyarrow"):
        write(pets, tmp_path / "x.parquet")


def test_csv_without_pyarrow_uses_c_parser(tmp_path: Path, pets: Answers,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from crowdlearn.io import _common, _text

    path = write(pets, tmp_path / "pets.csv")
    monkeypatch.setattr(_common, "has_pyarrow", lambda: False)
    monkeypatch.setattr(_text, "has_pyarrow", lambda: False)
    assert read(path) == pets
    write(pets, tmp_path / "again.csv")
    assert read(tmp_path / "again.csv") == pets
    bad = write_text(tmp_path / "bad.csv", "task,worker,label\n1,1,0\n1,2,5,6\n")
    with pytest.raises(DataError, match=r"bad.csv: line 3: expected 3 fields, found 4"):
        read(bad)


def test_truth_inference_folder_round_trip(tmp_path: Path, pets: Answers) -> None:
    folder = write(pets, tmp_path / "pets", format="truth-inference")
    assert sorted(p.name for p in folder.iterdir()) == ["label.csv", "truth.csv"]
    assert (folder / "label.csv").read_text().splitlines()[0] == "item,worker,label"
    assert (folder / "truth.csv").read_text().splitlines()[0] == "item,truth"
    back = read(folder)
    assert back == pets and back.name == "pets"
    assert read_truth_inference(folder, truth=False).truth is None


def test_truth_inference_keeps_other_files(tmp_path: Path, pets: Answers) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "README").write_text("keep me")
    (folder / "truth.csv").write_text("item,truth\nstale,cat\n")
    write_truth_inference(pets.with_truth(None), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["README", "label.csv"]
    assert read(folder) == pets.with_truth(None)


def test_truth_inference_folder_without_label_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no label.csv in the folder"):
        read_truth_inference(tmp_path)


def test_line_numbers_skip_blank_lines(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "task,worker,label\n\n1,1,0\n\n\n2,1,\n")
    with pytest.raises(DataError, match=r"a.csv: line 6: field 'label': missing value"):
        read_table(path)


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"task,worker,label\r\n1,1,0\r\n2,1,\r\n")
    with pytest.raises(DataError, match=r"a.csv: line 3: field 'label': missing value"):
        read(path)


def test_large_integer_table_is_read_without_per_row_python(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n_tasks, per_task = 20_000, 5
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = (task * 7 + np.tile(np.arange(per_task), n_tasks) * 101) % 1000
    label = rng.integers(0, 4, len(task))
    order = rng.permutation(len(task))
    pd.DataFrame({"task": task[order], "worker": worker[order], "label": label[order]}).to_csv(
        tmp_path / "big.csv", index=False)
    a = read(tmp_path / "big.csv")
    assert len(a) == n_tasks * per_task and a.n_tasks == n_tasks
    expected = Answers.from_arrays(task, worker, label)
    assert a == expected


# ---------------------------------------------------------------------- atomic writes
def test_atomic_write_keeps_old_file_on_error(tmp_path: Path) -> None:
    from crowdlearn.io import atomic_write

    target = write_text(tmp_path / "out.csv", "old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("half of the new content")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with atomic_write(target, "wb") as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_dir_replaces_only_at_the_end(tmp_path: Path) -> None:
    from crowdlearn.io import atomic_dir

    target = tmp_path / "ds"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (target / "old.txt").exists()
        raise RuntimeError("interrupted")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (target / "old.txt").exists()
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_large_text_table_matches_pandas_sorted_factorize(tmp_path: Path) -> None:
    from crowdlearn.labels import factorize_sorted

    rng = np.random.default_rng(1)
    alphabet = np.array(list("abcXYZé日 _-"))
    ids = np.array(["".join(rng.choice(alphabet, 6)) for _ in range(15_000)], dtype=object)
    codes, uniques = factorize_sorted(ids)
    ref_codes, ref_uniques = pd.factorize(ids, sort=True)
    assert np.array_equal(codes, ref_codes) and list(uniques) == list(ref_uniques)
    assert list(uniques) == sorted(set(ids.tolist()))
    frame = pd.DataFrame({"task": ids, "worker": "w", "label": rng.integers(0, 3, len(ids))})
    frame = frame.drop_duplicates("task")
    frame.to_csv(tmp_path / "t.csv", index=False)
    a = read(tmp_path / "t.csv")
    assert a.task_ids.tolist() == sorted(frame["task"].tolist())
    assert a.to_frame().set_index("task")["label"].to_dict() == \
        frame.set_index("task")["label"].to_dict()


def test_tasks_without_answers_cannot_be_written_as_a_table(tmp_path: Path) -> None:
    answers = Answers.from_arrays([0, 1, 2], [0, 1, 0], [1, 0, 1]).select_workers([0])
    with pytest.raises(DataError, match="1 of 3 tasks have no answers"):
        write_table(answers, tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()
