"""Bad input: every problem is a one-line DataError naming the file and the line or field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.io import read, read_truth, write


def text_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(exc: pytest.ExceptionInfo[DataError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------- missing columns
@pytest.mark.parametrize("name,sep", [("answers.csv", ","), ("answers.tsv", "\t")])
def test_missing_columns(tmp_path: Path, name: str, sep: str) -> None:
    path = text_file(tmp_path, name, sep.join(["task", "annotator", "label"]) + "\n1\t2\t3\n")
    with pytest.raises(DataError, match=rf"{name}: line 1: field 'worker': missing column "
                       r"'worker'; the header has: task, annotator, label") as exc:
        read(path)
    one_line_error(exc)


def test_missing_task_column(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.csv", "id,worker,label\n1,2,3\n")
    with pytest.raises(DataError, match=r"answers.csv: line 1: field 'task': missing column "
                       r"'task' \(or 'item'\)"):
        read(path)


def test_missing_columns_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"task": [1], "worker": [1]}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"a.parquet: field 'label': missing column 'label'"):
        read(tmp_path / "a.parquet")


# ---------------------------------------------------------------------- empty files
@pytest.mark.parametrize("name,fmt", [("answers.csv", None), ("answers.tsv", None),
                                      ("answers.txt", "crowdlayer"), ("m.npy", None),
                                      ("x.parquet", None)])
def test_zero_byte_files(tmp_path: Path, name: str, fmt: str | None) -> None:
    path = text_file(tmp_path, name, "")
    with pytest.raises(DataError, match=rf"{name}: empty file \(0 bytes\)"):
        read(path, format=fmt)


def test_zero_byte_answers_json(tmp_path: Path) -> None:
    text_file(tmp_path, "answers.json", "")
    with pytest.raises(DataError, match=r"answers.json: empty file \(0 bytes\)"):
        read(tmp_path)


def test_header_only(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.csv", "task,worker,label\n\n")
    with pytest.raises(DataError, match=r"answers.csv: no data rows \(only a header\)"):
        read(path)
    pd.DataFrame({"task": [], "worker": [], "label": []}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"a.parquet: no data rows"):
        read(tmp_path / "a.parquet")


# ---------------------------------------------------------------------- labels
def test_label_outside_declared_classes(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.csv", "task,worker,label\n1,1,0\n1,2,1\n2,1,2\n")
    with pytest.raises(DataError, match=r"answers.csv: line 4: field 'label': label 2 is outside "
                       r"the 2 declared classes \(0..1\)"):
        read(path, n_classes=2)
    named = text_file(tmp_path, "named.csv", "task,worker,label\n1,1,cat\n1,2,cow\n")
    with pytest.raises(DataError, match=r"named.csv: line 3: field 'label': label 'cow' is not "
                       r"one of the declared classes"):
        read(named, classes=["cat", "dog"])


def test_label_outside_peerannot_metadata_classes(tmp_path: Path) -> None:
    text_file(tmp_path, "answers.json", json.dumps({"0": {"1": 0}, "1": {"2": 9}}))
    text_file(tmp_path, "metadata.json", json.dumps({"name": "x", "n_classes": 8}))
    with pytest.raises(DataError, match=r'answers.json: task "1", worker "2": field \'label\': '
                       r"label 9 is outside the 8 declared classes"):
        read(tmp_path)


def test_non_integer_label_where_integers_are_required(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.csv", "task,worker,label\n1,1,0\n1,2,dog\n")
    with pytest.raises(DataError, match=r"answers.csv: line 3: field 'label': non-integer label "
                       r"'dog' where integers are required"):
        read(path, n_classes=3)
    text_file(tmp_path, "answers.json", json.dumps({"7": {"3": "dog"}}))
    with pytest.raises(DataError, match=r'answers.json: task "7", worker "3": field \'label\': '
                       r"non-integer label 'dog'"):
        read(tmp_path)
    floats = text_file(tmp_path, "f.csv", "task,worker,label\n1,1,0\n1,2,2.5\n")
    with pytest.raises(DataError, match=r"f.csv: line 3: field 'label': non-integer value 2.5"):
        read(floats, kind="classification")  # undeclared, 2.5 makes them real values


# ---------------------------------------------------------------------- matrices
def test_negative_ids_in_matrix(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.txt", "0 1\n-1 -7\n")
    with pytest.raises(DataError, match=r"answers.txt: line 2, column 2: negative value -7"):
        read(path)


# ---------------------------------------------------------------------- duplicates
def test_duplicates_error_names_original_lines(tmp_path: Path) -> None:
    rows = ["task,worker,label", "b,w2,1", "a,w1,0", "", "b,w2,0", "a,w1,1", "c,w1,0",
            "a,w1,0", "d,w3,1", "d,w3,1", "e,w1,1", "e,w1,0"]
    path = text_file(tmp_path, "answers.csv", "\n".join(rows) + "\n")
    with pytest.raises(DataError) as exc:
        read(path)
    message = one_line_error(exc)
    assert message.startswith("answers.csv: ") or "answers.csv: " in message
    assert "5 duplicate (task, worker) answer(s)" in message
    assert "task 'a' / worker 'w1' at line 3 and line 6" in message
    assert "task 'a' / worker 'w1' at line 6 and line 8" in message
    assert "task 'b' / worker 'w2' at line 2 and line 5" in message
    assert "and 2 more" in message
    assert "duplicates='first', 'last' or 'all'" in message


def test_duplicate_policies(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.csv", "task,worker,label\n1,1,0\n1,1,2\n1,2,1\n")
    assert read(path, duplicates="first").label.tolist() == [0, 1]
    assert read(path, duplicates="last").label.tolist() == [2, 1]
    assert read(path, duplicates="all").label.tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="duplicates must be one of"):
        read(path, duplicates="keep")


# ---------------------------------------------------------------------- truth
def test_truth_for_unknown_task(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    text_file(folder, "label.csv", "item,worker,label\n0,0,1\n1,0,0\n")
    text_file(folder, "truth.csv", "item,truth\n0,1\n1,0\n5,1\n")
    with pytest.raises(DataError, match=r"truth.csv: line 4: field 'item': unknown task 5 "
                       r"\(not in the answers\)"):
        read(folder)


def test_truth_for_unknown_task_sibling(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label\nx,w,cat\n")
    text_file(tmp_path, "a.truth.csv", "task,truth\ny,cat\n")
    with pytest.raises(DataError, match=r"a.truth.csv: line 2: field 'task': unknown task 'y'"):
        read(path)


# ---------------------------------------------------------------------- JSON
def test_malformed_json(tmp_path: Path) -> None:
    text_file(tmp_path, "answers.json", '{\n  "0": {"1": 1,\n         "2" 0}\n}\n')
    with pytest.raises(DataError, match=r"answers.json: line 3, column 14: malformed JSON: "
                       r"Expecting ':' delimiter"):
        read(tmp_path)


def test_malformed_metadata_json(tmp_path: Path) -> None:
    text_file(tmp_path, "answers.json", '{"0": {"1": 1}}')
    text_file(tmp_path, "metadata.json", '{"name": "x",\n"n_classes": }')
    with pytest.raises(DataError, match=r"metadata.json: line 2, column 14: malformed JSON"):
        read(tmp_path)


# ---------------------------------------------------------------------- missing values
@pytest.mark.parametrize("row,field", [(",w1,cat", "task"), ("t2,,cat", "worker"),
                                       ("t2,w1,", "label")])
def test_missing_values(tmp_path: Path, row: str, field: str) -> None:
    path = text_file(tmp_path, "answers.csv", f"task,worker,label\nt1,w1,dog\n\n{row}\n")
    with pytest.raises(DataError, match=rf"answers.csv: line 4: field '{field}': missing value"):
        read(path)


def test_missing_values_integer_column(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.tsv", "task\tworker\tlabel\n1\t1\t0\n2\t\t1\n")
    with pytest.raises(DataError, match=r"answers.tsv: line 3: field 'worker': missing value"):
        read(path)


def test_missing_values_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"task": ["a", "b"], "worker": ["w", None], "label": [0, 1]}).to_parquet(
        tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"a.parquet: row 1: field 'worker': missing value"):
        read(tmp_path / "a.parquet")


# ---------------------------------------------------------------------- files and formats
def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.csv: no such file or folder"):
        read(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"nope.csv: no such file"):
        read(tmp_path / "nope.csv", format="csv")
    with pytest.raises(DataError, match=r"nope: no such folder"):
        read(tmp_path / "nope", format="peerannot")
    a = Answers.from_arrays([1], [1], [0])
    with pytest.raises(DataError, match=r"gold.csv: no such file"):
        read_truth(tmp_path / "gold.csv", a)


def test_unknown_and_undetectable_formats(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.dat", "task,worker,label\n1,1,1\n")
    with pytest.raises(DataError, match=r"a.dat: cannot tell the format"):
        read(path)
    with pytest.raises(DataError, match=r"field 'format': unknown format 'xml'"):
        read(path, format="xml")
    with pytest.raises(DataError, match=r"cannot tell the format of this folder"):
        read(tmp_path)
    a = read(path, format="csv")
    with pytest.raises(DataError, match=r"out.txt: cannot tell the output format"):
        write(a, tmp_path / "out.txt")


def test_overwrite_false(tmp_path: Path) -> None:
    a = Answers.from_arrays([1], [1], [0])
    write(a, tmp_path / "a.csv")
    with pytest.raises(DataError, match=r"a.csv: already exists \(overwrite=False\)"):
        write(a, tmp_path / "a.csv", overwrite=False)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("task,worker,label\n1,caf\u00e9,0\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"a.csv: line 2: not UTF-8 text \(invalid continuation "
                       r"byte, byte 0xe9 at byte offset 23\)"):
        read(path)


def test_ragged_rows(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.csv", "task,worker,label\n1,1,0\n\n1,2,0,5\n")
    with pytest.raises(DataError, match=r"answers.csv: line 4: expected 3 fields, found 4"):
        read(path)


def test_non_whole_float_truth_array(tmp_path: Path) -> None:
    a = Answers.from_arrays([0, 1], [0, 0], [0, 1])
    np.save(tmp_path / "t.npy", np.array([0.0, np.inf]))
    with pytest.raises(DataError, match=r"t.npy: position 1: field 'truth': non-integer"):
        read_truth(tmp_path / "t.npy", a)
