"""Hostile inputs (issue 10): values are matched to classes by name, huge or overflowing labels,
non-UTF-8 text, duplicated headers, header-less tables, deep JSON, odd Parquet columns.

Each test names the defect it guards against; every error is one line naming file and place.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.errors import cli_spelling
from crowdlearn.io import read, read_truth


def text_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_line(exc: pytest.ExceptionInfo[DataError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------ item 1: names, not positions
def test_integer_truth_matches_text_class_names(tmp_path: Path) -> None:
    answers = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,1\n1,b,2\n2,a,unsure\n2,b,2\n")
    truth = text_file(tmp_path, "t.csv", "task,truth\n1,1\n2,2\n")
    a = read(answers, truth=truth)
    assert a.classes.tolist() == ["1", "2", "unsure"]
    assert a.classes[a.truth].tolist() == ["1", "2"]  # was ['2', 'unsure']


def test_integer_truth_against_text_classes_is_refused(tmp_path: Path) -> None:
    answers = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,cat\n1,b,dog\n2,a,cat\n")
    truth = text_file(tmp_path, "t.csv", "task,truth\n1,1\n2,0\n")
    with pytest.raises(DataError, match=r"t.csv: line 2: field 'truth': label 1 is not one of "
                       r"the answers' classes \('cat', 'dog'\)") as exc:
        read(answers, truth=truth)
    one_line(exc)
    a = read(answers)
    with pytest.raises(DataError, match=r"t.csv: line 2: field 'truth': label 1 is not one"):
        read_truth(truth, a)
    with pytest.raises(DataError, match=r"truth mapping: position 0: field 'truth': label 0 "
                       r"is not one"):
        read(answers, truth={1: 0, 2: 1})


def test_declared_text_classes_match_integer_labels_by_name(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,1\n1,b,2\n")
    a = read(path, classes=["1", "2", "unsure"])
    assert a.classes[a.label].tolist() == ["1", "2"]  # was ['2', 'unsure']
    with pytest.raises(DataError, match=r"a.csv: line 2: field 'label': label 1 is not one of "
                       r"the declared classes \('cat', 'dog'\)"):
        read(path, classes=["cat", "dog"])
    b = Answers.from_arrays([0, 1], [0, 0], ["1", "0"], classes=[0, 1])
    assert b.label.tolist() == [1, 0] and b.classes.tolist() == [0, 1]


def test_integer_truth_still_widens_integer_classes(tmp_path: Path) -> None:
    answers = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,0\n2,a,1\n")
    truth = text_file(tmp_path, "t.csv", "task,truth\n1,2\n")
    a = read(answers, truth=truth)
    assert a.classes.tolist() == [0, 1, 2] and a.truth.tolist() == [2, -1]


# ---------------------------------------------------------------------- item 2: huge labels
@pytest.mark.parametrize("value,shown", [
    ("200000000", "label 200000000 would make 200,000,001 classes"),
    ("100000", "label 100000 would make 100,001 classes"),
    ("1e300", r"value 1e\+300 is beyond the 64-bit integer range"),
    ("9223372036854775813", "value .* is beyond the 64-bit integer range"),
    ("12345678901234567890123", "value .* is beyond the 64-bit integer range"),
])
def test_huge_labels_are_refused_before_allocation(tmp_path: Path, value: str, shown: str) -> None:
    path = text_file(tmp_path, "a.csv", f"task,worker,label\n1,a,0\n1,b,1\n2,a,{value}\n")
    with pytest.raises(DataError, match=rf"a.csv: line 4: field 'label': {shown}") as exc:
        read(path)
    assert "negative" not in one_line(exc)


def test_huge_label_message_gives_the_remedy(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,0\n2,a,5000\n")
    with pytest.raises(DataError, match=r"declare them: classes=\[\.\.\.\]"):
        read(path)
    with cli_spelling(), pytest.raises(DataError, match=r"declare them: --classes NAME,NAME"):
        read(path)
    assert read(path, classes=["0", "5000"]).classes.tolist() == ["0", "5000"]
    assert read(path, n_classes=5001).n_classes == 5001


def test_sparse_but_plausible_integer_classes_are_kept(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,1\n2,a,5\n3,a,30\n")
    assert read(path).n_classes == 31  # 31 <= 2 * 3 + 32


def test_uint64_labels_beyond_int64(tmp_path: Path) -> None:
    big = np.array([0, 1, 2**63 + 5], dtype=np.uint64)
    with pytest.raises(DataError, match=r"row 2: field 'label': value 9223372036854775813 is "
                       r"beyond the 64-bit integer range"):
        Answers.from_frame(pd.DataFrame({"task": [0, 1, 2], "worker": [0, 0, 0], "label": big}))


def test_huge_truth_index_array(tmp_path: Path) -> None:
    answers = text_file(tmp_path, "a.csv", "task,worker,label\n0,a,0\n1,a,1\n")
    np.save(tmp_path / "t.npy", np.array([0, 300_000_000]))
    with pytest.raises(DataError, match=r"t.npy: position 1: field 'truth': true class "
                       r"300000000 would make 300,000,001 classes"):
        read(answers, truth=tmp_path / "t.npy")


def test_non_integer_float_labels_are_refused(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,0.5\n2,a,1\n")
    with pytest.raises(DataError, match=r"a.csv: line 2: field 'label': non-integer value 0.5"):
        read(path, kind="classification")  # undeclared, 0.5 makes them real values


def test_long_integer_ids_stay_exact(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label\n1,12345678901234567890123,0\n"
                     "1,12345678901234567890124,1\n")
    a = read(path)
    assert a.worker_ids.tolist() == ["12345678901234567890123", "12345678901234567890124"]


# ---------------------------------------------------------------------- item 3: tables
def test_headerless_csv_is_not_read_as_a_matrix(tmp_path: Path) -> None:
    path = text_file(tmp_path, "answers.csv", "1,2,0\n1,3,1\n2,2,1\n")
    with pytest.raises(DataError, match=r"answers.csv: line 1: the first line holds only "
                       r"numbers.*format='crowdlayer'") as exc:
        read(path)
    one_line(exc)
    with cli_spelling(), pytest.raises(DataError, match=r"--format crowdlayer"):
        read(path)
    assert read(path, format="crowdlayer").n_workers == 3


def test_duplicated_header_is_refused(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label,label\n1,a,0,1\n1,b,1,0\n")
    with pytest.raises(DataError, match=r"a.csv: line 1: field 'label': the header names 2 "
                       r"columns 'label' \(columns 3, 4\)"):
        read(path)
    frame = pd.DataFrame([[1, "a", 0, 1]], columns=["task", "worker", "label", "label"])
    with pytest.raises(DataError, match=r"DataFrame: field 'label': 2 columns are named 'label'"):
        read(frame)


def test_duplicated_unused_column_is_harmless(tmp_path: Path) -> None:
    path = text_file(tmp_path, "a.csv", "task,worker,label,note,note\n1,a,0,x,y\n")
    assert len(read(path)) == 1


# ---------------------------------------------------------------------- item 9: odd structures
def test_deeply_nested_answers_json(tmp_path: Path) -> None:
    text_file(tmp_path, "answers.json", '{"1": ' * 200_000 + "1" + "}" * 200_000)
    with pytest.raises(DataError, match=r"answers.json: JSON nested too deeply") as exc:
        read(tmp_path)
    one_line(exc)


def test_huge_integer_label_in_answers_json(tmp_path: Path) -> None:
    text_file(tmp_path, "answers.json", '{"1": {"1": 12345678901234567890123}, "2": {"3": 1}}')
    with pytest.raises(DataError, match=r'answers.json: task "1", worker "1": field \'label\': '
                       r"value 12345678901234567890123 is beyond"):
        read(tmp_path)


def test_long_worker_key_in_answers_json(tmp_path: Path) -> None:
    text_file(tmp_path, "answers.json", '{"1": {"12345678901234567890123": 0}, "2": {"3": 1}}')
    assert read(tmp_path).worker_ids.tolist() == ["12345678901234567890123", "3"]


def test_parquet_list_and_bytes_columns(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pd.DataFrame({"task": [[1, 2], [3]], "worker": ["a", "b"], "label": [0, 1]}).to_parquet(
        tmp_path / "list.parquet")
    with pytest.raises(DataError, match=r"list.parquet: row 0: field 'task': value of type "
                       r"ndarray .*ids and labels must be text or numbers") as exc:
        read(tmp_path / "list.parquet")
    one_line(exc)
    pd.DataFrame({"task": [b"\xff\xfe", b"ok"], "worker": ["a", "b"], "label": [0, 1]}
                 ).to_parquet(tmp_path / "bytes.parquet")
    with pytest.raises(DataError, match=r"bytes.parquet: row 0: field 'task': binary value "
                       r"b'\\xff\\xfe' is not UTF-8 text"):
        read(tmp_path / "bytes.parquet")
    pd.DataFrame({"task": [b"t1", b"t2"], "worker": ["a", "b"], "label": [0, 1]}
                 ).to_parquet(tmp_path / "utf8.parquet")
    assert read(tmp_path / "utf8.parquet").task_ids.tolist() == ["t1", "t2"]


# ---------------------------------------------------------------------- item 10: messages
def test_duplicate_advice_is_spelled_for_the_caller(tmp_path: Path) -> None:
    path = text_file(tmp_path, "d.csv", "task,worker,label\n1,a,0\n1,a,1\n")
    with pytest.raises(DataError, match=r"choose duplicates='first', 'last' or 'all'"):
        read(path)
    with cli_spelling(), pytest.raises(DataError, match=r"choose --duplicates first\|last\|all"):
        read(path)


def test_utf8_error_reports_the_file_offset_and_line(tmp_path: Path) -> None:
    body = b"".join(b"%d,w%d,0\n" % (i, i) for i in range(200_000))
    data = b"task,worker,label\n" + body + b"9,w\xff,1\n"
    (tmp_path / "big.csv").write_bytes(data)
    at = data.index(b"\xff")
    with pytest.raises(DataError, match=rf"big.csv: line 200002: not UTF-8 text \(invalid start "
                       rf"byte, byte 0xff at byte offset {at}\)"):
        read(tmp_path / "big.csv")
    text_file(tmp_path, "metadata.json", "{}")
    (tmp_path / "answers.json").write_bytes(b'{"1": {"a": 0},\n "2": {"\xe9": 1}}')
    with pytest.raises(DataError, match=r"answers.json: line 2: not UTF-8 text .* at byte "
                       r"offset 24\)"):
        read(tmp_path)


def test_cli_classes_option_accepts_sparse_integer_names(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from crowdlearn.cli import main

    path = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,0\n1,b,1\n2,a,100000\n")
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--classes NAME,NAME,..." in err and "a.csv: line 4" in err
    assert main(["info", str(path), "--classes", "0,1,100000"]) == 0
    assert "classes:   3 (0, 1, 100000)" in capsys.readouterr().out


def test_features_advice_is_spelled_for_the_caller(tmp_path: Path) -> None:
    from crowdlearn.io import read_features

    path = text_file(tmp_path, "f.csv", "key,x\n1,0.5\n")
    with pytest.raises(DataError, match=r"pass id_col=\.\.\., or id_col=None"):
        read_features(path)
    with cli_spelling(), pytest.raises(DataError, match=r"pass --features-id-col COL, or "
                                       r"--features-id-col none"):
        read_features(path)


def test_peerannot_folder_with_repeated_answers_round_trips(tmp_path: Path) -> None:
    from crowdlearn.io import write_peerannot

    a = Answers.from_arrays([0, 0, 0, 1], ["w", "w", "v", "w"], [1, 0, 1, 0], duplicates="all")
    with pytest.raises(DataError, match=r"cannot hold two answers of one worker to one task"):
        write_peerannot(a, tmp_path / "plain")
    write_peerannot(a, tmp_path / "set", repeated=True)
    meta = json.loads((tmp_path / "set" / "metadata.json").read_text())
    assert (meta["duplicates"], meta["repeated_answers"]) == ("all", 1)
    assert read(tmp_path / "set") == a.rename("set")
    assert len(read(tmp_path / "set", duplicates="first")) == 3
    text_file(tmp_path / "set", "metadata.json", json.dumps({"duplicates": "some"}))
    with pytest.raises(DataError, match=r"metadata.json: field 'duplicates': expected"):
        read(tmp_path / "set")


def test_headerless_truth_lines_are_not_positions_into_named_classes(tmp_path: Path) -> None:
    answers = text_file(tmp_path, "a.csv", "task,worker,label\n1,a,1\n1,b,2\n2,a,unsure\n")
    lines = text_file(tmp_path, "gold.txt", "1\n2\n")
    with pytest.raises(DataError, match=r"gold.txt: field 'truth': one number per line means "
                       r"class indices in task order, but the answers' classes are names"):
        read(answers, truth=lines)
    ints = text_file(tmp_path, "b.csv", "task,worker,label\n1,a,0\n2,a,1\n")
    assert read(ints, truth=lines).truth.tolist() == [1, 2]  # integer classes: indices
