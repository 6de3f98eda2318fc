"""A corpus of malformed inputs, generated here, through every reader and command (issue 10).

Each kind of damage (bad encodings, missing or repeated columns, empty files, huge, NaN or
non-integer labels, mixed types, ragged rows, bad or deep JSON, wrong metadata, truth naming
unknown tasks or classes, broken arrays, Parquet oddities, ...) is written into its own folder,
then fed to :func:`crowdlearn.io.read` and to the ``info``, ``aggregate`` and ``convert``
commands. Every time: exit status 2 (a :class:`~crowdlearn.errors.DataError` from the
library), exactly one line on stderr that names the damaged file, no traceback, and nothing
written (the folder holds the same files afterwards, so no output folder, no leftovers).

The commands run in-process through :func:`crowdlearn.cli.main` (a subprocess costs about a
second); a few run as ``python -m crowdlearn`` to check the real exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import DataError
from crowdlearn.cli import main
from crowdlearn.io import read

try:
    import pyarrow  # noqa: F401

    HAS_PYARROW = True
except ImportError:  # pragma: no cover - pyarrow is a test dependency
    HAS_PYARROW = False

GOOD_ROWS = "1,a,0\n1,b,1\n2,a,1\n2,b,1\n"


@dataclass
class Case:
    """One malformed input: what to read, the file the error must name, extra options."""

    path: Path
    named: str
    read_kwargs: dict[str, object] = field(default_factory=dict)
    cli_args: list[str] = field(default_factory=list)


Builder = Callable[[Path], Case]
CASES: dict[str, Builder] = {}


def case(name: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        CASES[name] = fn
        return fn
    return register


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def csv_case(d: Path, text: str, name: str = "answers.csv") -> Case:
    return Case(write_text(d / name, text), name)


def peerannot_case(d: Path, answers: str | bytes, metadata: str | None = None,
                   named: str = "answers.json") -> Case:
    folder = d / "set"
    folder.mkdir()
    if isinstance(answers, bytes):
        (folder / "answers.json").write_bytes(answers)
    else:
        write_text(folder / "answers.json", answers)
    if metadata is not None:
        write_text(folder / "metadata.json", metadata)
    return Case(folder, named)


# ---------------------------------------------------------------------- encodings and files
@case("latin-1 text")
def _(d: Path) -> Case:
    (d / "answers.csv").write_bytes("task,worker,label\n1,caf\u00e9,0\n".encode("latin-1"))
    return Case(d / "answers.csv", "answers.csv")


@case("utf-16 text")
def _(d: Path) -> Case:
    (d / "answers.csv").write_bytes(f"task,worker,label\n{GOOD_ROWS}".encode("utf-16"))
    return Case(d / "answers.csv", "answers.csv")


@case("invalid utf-8 deep in a large file")
def _(d: Path) -> Case:
    body = b"".join(b"%d,w%d,0\n" % (i, i % 7) for i in range(50_000))
    (d / "answers.csv").write_bytes(b"task,worker,label\n" + body + b"9,\xc3\x28,1\n")
    return Case(d / "answers.csv", "answers.csv")


@case("empty file")
def _(d: Path) -> Case:
    return csv_case(d, "")


@case("blank lines only")
def _(d: Path) -> Case:
    return csv_case(d, "\n\n  \n")


@case("header only")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n")


@case("binary junk with a csv name")
def _(d: Path) -> Case:
    (d / "answers.csv").write_bytes(bytes(range(256)) * 4)
    return Case(d / "answers.csv", "answers.csv")


# ---------------------------------------------------------------------- columns and rows
@case("missing worker column")
def _(d: Path) -> Case:
    return csv_case(d, "task,annotator,label\n1,a,0\n")


@case("missing label column")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker\n1,a\n")


@case("duplicated label header")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label,label\n1,a,0,1\n1,b,1,0\n")


@case("header-less table of integers")
def _(d: Path) -> Case:
    return csv_case(d, "1,2,0\n1,3,1\n2,2,1\n")


@case("header-less tsv of integers")
def _(d: Path) -> Case:
    return csv_case(d, "1\t2\t0\n1\t3\t1\n", name="answers.tsv")


@case("ragged row: too many fields")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,b,1,7\n")


@case("ragged row: too few fields")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,b\n")


@case("missing task id")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n,b,1\n")


@case("repeated answers")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,a,1\n")


# ---------------------------------------------------------------------- label values
@case("huge label 200000000")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,b,1\n2,a,200000000\n")


@case("sparse label 100000")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,b,1\n2,a,100000\n")


@case("label 1e300")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,b,1\n2,a,1e300\n")


@case("label 2**63+5")
def _(d: Path) -> Case:
    return csv_case(d, f"task,worker,label\n1,a,0\n1,b,1\n2,a,{2**63 + 5}\n")


@case("23-digit label")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n2,a,12345678901234567890123\n")


@case("missing label (NaN)")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,b,\n")


@case("non-integer label")
def _(d: Path) -> Case:
    # declared class labels: undeclared, non-whole numbers are real values (regression)
    return Case(write_text(d / "answers.csv", "task,worker,label\n1,a,0\n1,b,0.5\n"), "answers.csv",
                {"kind": "classification"}, ["--kind", "classification"])


@case("mixed integer and float labels")
def _(d: Path) -> Case:
    # declared class labels: undeclared, non-whole numbers are real values (regression)
    return Case(write_text(d / "answers.csv", "task,worker,label\n1,a,1\n1,b,2.5\n2,a,3\n"),
                "answers.csv", {"kind": "classification"}, ["--kind", "classification"])


@case("negative label")
def _(d: Path) -> Case:
    return csv_case(d, "task,worker,label\n1,a,0\n1,b,-3\n")


# ---------------------------------------------------------------------- ground truth
@case("truth names an unknown task")
def _(d: Path) -> Case:
    csv_case(d, f"task,worker,label\n{GOOD_ROWS}")
    write_text(d / "answers.truth.csv", "task,truth\n1,0\n99,1\n")
    return Case(d / "answers.csv", "answers.truth.csv")


@case("integer truth against text classes")
def _(d: Path) -> Case:
    csv_case(d, "task,worker,label\n1,a,cat\n1,b,dog\n2,a,cat\n")
    write_text(d / "answers.truth.csv", "task,truth\n1,1\n2,0\n")
    return Case(d / "answers.csv", "answers.truth.csv")


@case("truth with two labels for a task")
def _(d: Path) -> Case:
    csv_case(d, f"task,worker,label\n{GOOD_ROWS}")
    write_text(d / "answers.truth.csv", "task,truth\n1,0\n1,1\n")
    return Case(d / "answers.csv", "answers.truth.csv")


@case("truth file without a truth column")
def _(d: Path) -> Case:
    csv_case(d, f"task,worker,label\n{GOOD_ROWS}")
    write_text(d / "gold.csv", "task,score\n1,0\n")
    return Case(d / "answers.csv", "gold.csv", {"truth": d / "gold.csv"},
                ["--truth", str(d / "gold.csv")])


@case("truth array of the wrong length")
def _(d: Path) -> Case:
    csv_case(d, f"task,worker,label\n{GOOD_ROWS}")
    np.save(d / "gold.npy", np.array([0, 1, 1, 0, 1]))
    return Case(d / "answers.csv", "gold.npy", {"truth": d / "gold.npy"},
                ["--truth", str(d / "gold.npy")])


@case("truth array with a huge class index")
def _(d: Path) -> Case:
    csv_case(d, f"task,worker,label\n{GOOD_ROWS}")
    np.save(d / "gold.npy", np.array([0, 400_000_000]))
    return Case(d / "answers.csv", "gold.npy", {"truth": d / "gold.npy"},
                ["--truth", str(d / "gold.npy")])


@case("truth array of text")
def _(d: Path) -> Case:
    csv_case(d, f"task,worker,label\n{GOOD_ROWS}")
    np.save(d / "gold.npy", np.array(["a", "b"]))
    return Case(d / "answers.csv", "gold.npy", {"truth": d / "gold.npy"},
                ["--truth", str(d / "gold.npy")])


@case("truth file not UTF-8")
def _(d: Path) -> Case:
    csv_case(d, "task,worker,label\n1,a,x\n2,a,y\n")
    (d / "answers.truth.csv").write_bytes(b"task,truth\n1,\xe9t\xe9\n")
    return Case(d / "answers.csv", "answers.truth.csv")


# ---------------------------------------------------------------------- peerannot folders
@case("malformed answers.json")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 0},, }')


@case("answers.json nested 200,000 deep")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"1": ' * 200_000 + "1" + "}" * 200_000)


@case("answers.json is an array")
def _(d: Path) -> Case:
    return peerannot_case(d, "[[0, 1, 2]]")


@case("answers.json task is not an object")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 0}, "1": [1, 2]}')


@case("answers.json empty object")
def _(d: Path) -> Case:
    return peerannot_case(d, "{}")


@case("answers.json text label")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": "cat"}}')


@case("answers.json 23-digit label")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 12345678901234567890123}, "1": {"2": 0}}')


@case("answers.json not UTF-8")
def _(d: Path) -> Case:
    return peerannot_case(d, b'{"0": {"w\xff": 0}}')


@case("metadata.json malformed")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 0}}', '{"n_classes": 2,', named="metadata.json")


@case("metadata.json n_classes is text")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 0}}', '{"n_classes": "ten"}', named="metadata.json")


@case("metadata.json too few classes for a label")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 0}, "1": {"1": 5}}', '{"n_classes": 2}')


@case("metadata.json with 200 million classes")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 0}}', '{"n_classes": 200000000}',
                          named="metadata.json")


@case("metadata.json class names of the wrong count")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"1": 0}}', '{"n_classes": 3, "classes": ["a", "b"]}',
                          named="metadata.json")


@case("metadata.json n_workers below a worker")
def _(d: Path) -> Case:
    return peerannot_case(d, '{"0": {"7": 0}}', '{"n_workers": 3}', named="metadata.json")


@case("peerannot truth of the wrong length")
def _(d: Path) -> Case:
    c = peerannot_case(d, '{"0": {"1": 0}, "1": {"1": 1}}', json.dumps({"name": "x"}))
    np.save(c.path / "truth_x.npy", np.array([0.0, 1.0, 1.0, 0.0, 1.0]))
    c.named = "truth_x.npy"
    return c


# ---------------------------------------------------------------------- other layouts
@case("folder of unknown layout")
def _(d: Path) -> Case:
    (d / "stuff").mkdir()
    write_text(d / "stuff" / "notes.txt", "hello\n")
    return Case(d / "stuff", "stuff")


@case("truth-inference label.csv without worker")
def _(d: Path) -> Case:
    folder = d / "ti"
    write_text(folder / "label.csv", "item,annotator,label\n1,a,0\n")
    return Case(folder, "label.csv")


@case("crowdlayer matrix with -5")
def _(d: Path) -> Case:
    np.save(d / "m.npy", np.array([[0, -1], [-5, 1]]))
    return Case(d / "m.npy", "m.npy")


@case("crowdlayer matrix 1-d")
def _(d: Path) -> Case:
    np.save(d / "m.npy", np.array([0, 1, 1]))
    return Case(d / "m.npy", "m.npy")


@case("crowdlayer matrix with no answers")
def _(d: Path) -> Case:
    np.save(d / "m.npy", np.full((3, 2), -1))
    return Case(d / "m.npy", "m.npy")


@case("crowdlayer matrix of huge values")
def _(d: Path) -> Case:
    np.save(d / "m.npy", np.array([[0, 1], [1, 300_000_000]]))
    return Case(d / "m.npy", "m.npy")


@case("not a .npy file")
def _(d: Path) -> Case:
    (d / "m.npy").write_bytes(b"PK\x03\x04 not numpy at all")
    return Case(d / "m.npy", "m.npy")


@case("crowdlayer text with a word")
def _(d: Path) -> Case:
    return Case(write_text(d / "answers.txt", "1 0 -1\n1 x 0\n"), "answers.txt")


# ---------------------------------------------------------------------- parquet
def parquet_case(d: Path, table: object, name: str = "answers.parquet") -> Case:
    import pyarrow.parquet as pq

    pq.write_table(table, d / name)
    return Case(d / name, name)


@case("parquet list column")
def _(d: Path) -> Case:
    import pyarrow as pa

    return parquet_case(d, pa.table({"task": [[1, 2], [3]], "worker": ["a", "b"],
                                     "label": [0, 1]}))


@case("parquet binary ids that are not UTF-8")
def _(d: Path) -> Case:
    import pyarrow as pa

    return parquet_case(d, pa.table({"task": pa.array([b"\xff\xfe", b"ok"], pa.binary()),
                                     "worker": ["a", "b"], "label": [0, 1]}))


@case("parquet NaN label")
def _(d: Path) -> Case:
    import pyarrow as pa

    return parquet_case(d, pa.table({"task": [1, 2], "worker": ["a", "b"],
                                     "label": [0.0, float("nan")]}))


@case("parquet inf label")
def _(d: Path) -> Case:
    import pyarrow as pa

    return parquet_case(d, pa.table({"task": [1, 2], "worker": ["a", "b"],
                                     "label": [0.0, float("inf")]}))


@case("parquet uint64 label beyond int64")
def _(d: Path) -> Case:
    import pyarrow as pa

    return parquet_case(d, pa.table({"task": [1, 2], "worker": ["a", "b"],
                                     "label": pa.array([0, 2**63 + 5], pa.uint64())}))


@case("parquet duplicated column")
def _(d: Path) -> Case:
    import pyarrow as pa

    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array(["a", "b"]), pa.array([0, 1]),
                                  pa.array([1, 0])], names=["task", "worker", "label", "label"])
    return parquet_case(d, table)


@case("parquet missing column")
def _(d: Path) -> Case:
    import pyarrow as pa

    return parquet_case(d, pa.table({"task": [1], "worker": ["a"]}))


@case("text file named .parquet")
def _(d: Path) -> Case:
    return Case(write_text(d / "answers.parquet", f"task,worker,label\n{GOOD_ROWS}"),
                "answers.parquet")


PARQUET_CASES = {n for n in CASES if "parquet" in n and n != "text file named .parquet"}


def build(name: str, tmp_path: Path) -> tuple[Case, Path]:
    if name in PARQUET_CASES and not HAS_PYARROW:
        pytest.skip("pyarrow is not installed")
    d = tmp_path / "in"
    d.mkdir()
    return CASES[name](d), d


def snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def check_one_line(err: str, named: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert named in lines[0], err
    assert lines[0].startswith("crowdlearn ") and ": error: " in lines[0], err


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c, d = build(name, tmp_path)
    before = snapshot(d)
    with pytest.raises(DataError) as exc:
        read(c.path, **c.read_kwargs)
    message = str(exc.value)
    assert "\n" not in message and c.named in message, message
    capsys.readouterr()
    out = tmp_path / "out"
    commands = (
        ["info", str(c.path)],
        ["aggregate", str(c.path), "-s", "mv", "-o", str(out / "agg")],
        ["aggregate", str(c.path), "-s", "mv"],  # the default output folder
        ["convert", str(c.path), str(out / "conv"), "--to", "peerannot"],
        ["convert", str(c.path), str(out / "conv.csv"), "--to", "csv"],
    )
    for argv in commands:
        assert main([*argv, *c.cli_args]) == 2, argv
        captured = capsys.readouterr()
        check_one_line(captured.err, c.named)
        assert captured.out == "", argv
        assert not out.exists(), argv
        assert snapshot(d) == before, argv


SUBPROCESS_CASES = ("huge label 200000000", "integer truth against text classes")


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_malformed_input_real_exit_status(name: str, tmp_path: Path) -> None:
    c, d = build(name, tmp_path)
    before = snapshot(d)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "crowdlearn", "aggregate", str(c.path), "-s", "mv", "-o",
         str(tmp_path / "out"), *c.cli_args],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    check_one_line(proc.stderr, c.named)
    assert not (tmp_path / "out").exists()
    assert snapshot(d) == before


@pytest.mark.parametrize("name", ["duplicated label header", "not a .npy file",
                                  "empty file", "header-less table of integers"])
def test_malformed_features(name: str, tmp_path: Path) -> None:
    """The features reader meets the same damaged files with the same one-line errors."""
    from crowdlearn.io import read_features

    c, _ = build(name, tmp_path)
    with pytest.raises(DataError) as exc:
        read_features(c.path, id_col="task", columns=["label"] if c.path.suffix == ".csv"
                      else None)
    assert "\n" not in str(exc.value) and c.named in str(exc.value)


def test_npz_archive_under_a_npy_name(tmp_path: Path) -> None:
    from crowdlearn.io import read_features

    with open(tmp_path / "m.npy", "wb") as f:
        np.savez(f, X=np.zeros((2, 2)))
    for reader in (read, read_features):
        with pytest.raises(DataError, match=r"m.npy: not a .npy array \(a .npz archive"):
            reader(tmp_path / "m.npy")


def test_corpus_frames_with_pandas(tmp_path: Path) -> None:
    """The DataFrame reader meets the same label rules (no output involved)."""
    frame = pd.DataFrame({"task": [1, 2], "worker": ["a", "b"], "label": [0, 10**12]})
    with pytest.raises(DataError, match=r"DataFrame: row 1: field 'label': label 1000000000000"):
        read(frame)
