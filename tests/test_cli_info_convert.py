"""``crowdlearn info`` and ``crowdlearn convert``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Answers
from crowdlearn.cli import main
from crowdlearn.cli.info import histogram
from crowdlearn.io import read, write

CLI = Path(__file__).resolve().parents[1] / "src" / "crowdlearn" / "cli"


@pytest.fixture
def pets_csv(tmp_path: Path) -> Path:
    a = Answers.from_arrays(
        ["t1", "t1", "t1", "t2", "t2", "t3"], ["w1", "w2", "w3", "w1", "w2", "w1"],
        ["cat", "cat", "dog", "dog", "dog", "bird"], truth={"t1": "cat", "t2": "cat"},
        name="pets",
    )
    return write(a, tmp_path / "pets.csv")


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_info_text(pets_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["info", str(pets_csv)], capsys)
    assert code == 0 and err == ""
    assert "name:      pets" in out
    assert "tasks:     3" in out
    assert "workers:   3" in out
    assert "classes:   3 (bird, cat, dog)" in out
    assert "answers:   6" in out
    assert "answers per task:   min 1, median 2, mean 2.00, max 3" in out
    assert "1:1 2:1 3:1" in out
    assert "truth:     2 tasks" in out
    assert "majority vote accuracy: 0.5000" in out


def test_info_json(pets_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["info", str(pets_csv), "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["n_answers"] == 6 and summary["classes"] == ["bird", "cat", "dog"]
    assert summary["answers_per_worker"]["max"] == 3
    assert summary["answers_per_task"]["histogram"] == [
        {"low": 1, "high": 1, "count": 1}, {"low": 2, "high": 2, "count": 1},
        {"low": 3, "high": 3, "count": 1}]
    assert summary["majority_vote_accuracy"] == 0.5
    assert summary["n_tasks_with_truth"] == 2


def test_info_with_truth_option_and_columns(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "raw.csv").write_text("id,annotator,class\ns1,A,pop\ns1,B,pop\ns2,A,rock\n")
    (tmp_path / "gold.csv").write_text("task,truth\ns1,pop\ns2,pop\n")
    code, out, _ = run_cli(["info", str(tmp_path / "raw.csv"), "--task-col", "id",
                            "--worker-col", "annotator", "--label-col", "class",
                            "--truth", str(tmp_path / "gold.csv"), "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["n_tasks_with_truth"] == 2 and summary["majority_vote_accuracy"] == 0.5


def test_info_crowdlayer_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "answers.dat").write_text("1 0 -1\n-1 1 1\n")
    code, out, _ = run_cli(["info", str(tmp_path / "answers.dat"), "--format", "crowdlayer",
                            "--json"], capsys)
    assert code == 0 and json.loads(out)["n_answers"] == 4


def test_histogram_bins() -> None:
    assert histogram(np.array([1, 1, 2, 5])) == [
        {"low": 1, "high": 1, "count": 2}, {"low": 2, "high": 2, "count": 1},
        {"low": 3, "high": 3, "count": 0}, {"low": 4, "high": 4, "count": 0},
        {"low": 5, "high": 5, "count": 1}]
    wide = histogram(np.arange(1, 101))
    assert len(wide) == 10 and all(b["count"] == 10 for b in wide)
    assert wide[0]["low"] == 1 and wide[-1]["high"] == 100
    assert histogram(np.array([], dtype=int)) == []


@pytest.mark.parametrize("fmt,dest", [("csv", "out.csv"), ("tsv", "out.tsv"),
                                      ("parquet", "out.parquet"), ("peerannot", "out-pa"),
                                      ("truth-inference", "out-ti")])
def test_convert_round_trip(pets_csv: Path, tmp_path: Path, fmt: str, dest: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "conv" / dest
    code, out, err = run_cli(["convert", str(pets_csv), str(out_path), "--to", fmt], capsys)
    assert code == 0 and err == ""
    assert out.startswith(f"wrote {out_path} ({fmt}): 6 answers, 3 tasks, 3 workers, 3 classes, "
                          "truth for 2 tasks")
    assert read(out_path, format=fmt) == read(pets_csv)


def test_convert_to_crowdlayer_and_back(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "answers.txt").write_text("1 0 1 1\n1 -1 0 0\n-1 1 -1 1\n")
    (tmp_path / "labels_train.txt").write_text("1\n0\n1\n")
    code, _, _ = run_cli(["convert", str(tmp_path / "answers.txt"), str(tmp_path / "a.csv"),
                          "--from", "crowdlayer", "--to", "csv", "--truth",
                          str(tmp_path / "labels_train.txt")], capsys)
    assert code == 0
    code, _, _ = run_cli(["convert", str(tmp_path / "a.csv"), str(tmp_path / "m.npy"),
                          "--to", "crowdlayer", "--quiet"], capsys)
    assert code == 0
    assert np.load(tmp_path / "m.npy").tolist() == [[1, 0, 1, 1], [1, -1, 0, 0],
                                                    [-1, 1, -1, 1]]
    assert np.load(tmp_path / "m.truth.npy").tolist() == [1, 0, 1]


def test_convert_to_crowdlayer_warns_when_ids_are_lost(
        pets_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["convert", str(pets_csv), str(tmp_path / "m.npy"), "--to",
                            "crowdlayer"], capsys)
    assert code == 0
    assert "note: a CrowdLayer matrix keeps only the order of tasks and workers" in err
    assert np.load(tmp_path / "m.npy").shape == (3, 3)


def test_convert_duplicates_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "raw.csv").write_text("task,worker,label\n1,1,0\n1,1,1\n2,1,0\n")
    code, out, err = run_cli(["convert", str(tmp_path / "raw.csv"), str(tmp_path / "c.csv"),
                              "--to", "csv"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("crowdlearn convert: error: ")
    assert "raw.csv: 1 duplicate (task, worker) answer(s): task 1 / worker 1 at line 2 and " \
           "line 3" in err
    assert not (tmp_path / "c.csv").exists()
    code, _, _ = run_cli(["convert", str(tmp_path / "raw.csv"), str(tmp_path / "c.csv"),
                          "--to", "csv", "--duplicates", "last"], capsys)
    assert code == 0
    assert read(tmp_path / "c.csv").label.tolist() == [1, 0]


def test_convert_no_overwrite(pets_csv: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["convert", str(pets_csv), str(pets_csv), "--to", "csv",
                            "--no-overwrite"], capsys)
    assert code == 2 and "already exists" in err


@pytest.mark.parametrize("content,expected", [
    ("task,worker\n1,1\n", r"line 1: field 'label': missing column 'label'"),
    ("", r"empty file \(0 bytes\)"),
    ("task,worker,label\n1,1,\n", r"line 2: field 'label': missing value"),
])
def test_bad_input_exit_code_and_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          content: str, expected: str) -> None:
    import re

    path = tmp_path / "bad.csv"
    path.write_text(content)
    for argv in (["info", str(path)], ["convert", str(path), str(tmp_path / "o.csv"),
                                       "--to", "csv"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and re.search(rf"bad.csv: {expected}", err)


def test_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["info", str(tmp_path / "nope.csv")], capsys)
    assert code == 2
    assert err.strip() == f"crowdlearn info: error: {tmp_path / 'nope.csv'}: no such file or " \
                          "folder"


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("info", "convert"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "Example:" in out and f"crowdlearn {command} " in out


def test_unknown_output_format_is_rejected(pets_csv: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(pets_csv), str(tmp_path / "x"), "--to", "xml"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["info.py", "convert.py"])
def test_cli_modules_import_nothing_heavy_at_module_level(module: str) -> None:
    tree = ast.parse((CLI / module).read_text())
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            top_level.add("." * node.level + (node.module or ""))
    assert top_level <= {"__future__", "argparse", "sys", "typing", ".", "._common"}


@pytest.mark.parametrize("command", ["info", "convert"])
def test_help_imports_no_numpy_or_pandas(command: str) -> None:
    import subprocess
    import sys

    probe = (
        "import sys\nfrom crowdlearn.cli import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('numpy', 'pandas', 'pyarrow') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1]
    assert out == "LOADED:"
