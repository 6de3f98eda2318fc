"""Output folders are written as a whole: faults never leave a folder mixing two runs, leftovers
of interrupted runs are cleaned by the next one, and files follow the umask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.cli import main
from crowdlearn.io._atomic import atomic_dir, atomic_update, clean_stale
from crowdlearn.simulate import simulate


@pytest.fixture
def answers_csv(tmp_path: Path) -> Path:
    crowd = simulate(120, 3, workers=[("one-coin", 5)], answers_per_task=3, seed=2)
    path = tmp_path / "answers.csv"
    crowd.answers.to_frame().to_csv(path, index=False)
    return path


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------------- faults mid-folder
def test_aggregate_failing_mid_folder_keeps_the_previous_run_whole(
    answers_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert main(["aggregate", str(answers_csv), "-s", "mv", "-o", str(out), "--quiet"]) == 0
    before = _snapshot(out)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", broken)  # labels and probas written, workers fails
    assert main(["aggregate", str(answers_csv), "-s", "ds", "-o", str(out), "--quiet"]) == 2
    assert _snapshot(out) == before  # no DS labels beside the MV summary
    assert _hidden(out) == [] and _hidden(tmp_path) == []


def test_a_second_strategy_keeps_the_first_ones_files(answers_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["aggregate", str(answers_csv), "-s", "mv", "-o", str(out), "--quiet"]) == 0
    assert main(["aggregate", str(answers_csv), "-s", "ds", "-o", str(out), "--quiet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"probas_answers_mv.npy", "probas_answers_ds.npy", "labels_answers_ds.csv",
            "labels_answers_mv.csv"} <= names
    summary = json.loads((out / "summary_answers_ds.json").read_text())
    assert summary["strategy"] == "ds"
    assert np.array_equal(  # classes are 0..K-1 here; labels_D_ds.npy holds the posteriors
        pd.read_csv(out / "labels_answers_ds.csv")["label"].to_numpy(),
        np.load(out / "probas_answers_ds.npy").argmax(axis=1))


_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from crowdlearn.io._atomic import atomic_dir, atomic_update
target, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "swap":  # die between the two renames of the swap
    import crowdlearn.io._atomic as m
    real = os.replace
    calls = []
    def replace(a, b):
        calls.append(a)
        real(a, b)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGKILL)
    m.os.replace = replace
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
else:
    with atomic_update(target) as tmp:
        (tmp / "half.txt").write_text("half")
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_mid_write_then_rerun_removes_the_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target), "update"],
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -signal.SIGKILL
    assert len(_hidden(tmp_path)) == 1  # the staging folder of the dead process
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_update(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert _hidden(tmp_path) == []
    assert sorted(p.name for p in target.iterdir()) == ["new.txt", "old.txt"]


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_between_the_renames_restores_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target), "swap"],
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()  # the old folder is aside, the new one not yet in place
    assert clean_stale(target)
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert _hidden(tmp_path) == []


def test_leftovers_of_live_processes_are_kept_old_anonymous_ones_removed(
        tmp_path: Path) -> None:
    target = tmp_path / "out"
    live = tmp_path / f".out.cl-000000-{os.getpid()}-abc.tmp"
    mine = live  # another host's tag: owner unknown, recent -> kept
    mine.mkdir()
    legacy = tmp_path / ".out.k2j4h5g6.tmp"  # an earlier version's temporary, no owner
    legacy.mkdir()
    os.utime(legacy, (time.time() - 7200, time.time() - 7200))
    inside = tmp_path / "out"
    inside.mkdir()
    (inside / ".labels.csv.abcd1234.tmp").write_text("x")
    os.utime(inside / ".labels.csv.abcd1234.tmp", (time.time() - 7200,) * 2)
    with atomic_update(target) as tmp:
        (tmp / "a.txt").write_text("a")
    assert _hidden(tmp_path) == [live.name]
    assert [p.name for p in target.iterdir()] == ["a.txt"]


def test_concurrent_updates_lose_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out"

    def writer(tag: str) -> None:
        for i in range(15):
            with atomic_update(target) as tmp:
                (tmp / f"{tag}{i}.txt").write_text(tag)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(list(target.iterdir())) == 30
    assert _hidden(tmp_path) == []


def test_write_errors_name_the_users_folder_not_the_temporary(tmp_path: Path) -> None:
    from crowdlearn.io._atomic import OutputError

    target = tmp_path / "out"
    with pytest.raises(OutputError, match=r"out[/\\]sub[/\\]x.txt: cannot write") as info, \
            atomic_dir(target) as tmp:
        (tmp / "sub" / "x.txt").write_text("x")  # no such folder
    assert ".tmp" not in str(info.value)
    assert _hidden(tmp_path) == []


# ---------------------------------------------------------------------- modes
@pytest.mark.skipif(os.name != "posix", reason="umask")
def test_aggregate_files_follow_the_umask(answers_csv: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "out"
        assert main(["aggregate", str(answers_csv), "-s", "mv", "-o", str(out), "--quiet"]) == 0
        assert main(["aggregate", str(answers_csv), "-s", "ds", "-o", str(out), "--quiet"]) == 0
    finally:
        os.umask(old)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in out.iterdir()}
    assert set(modes.values()) == {"0o644"}, modes
    assert oct(out.stat().st_mode & 0o777) == "0o755"


# ---------------------------------------------------------------------- destinations checked first
@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot create entries in (sysfs when running as root)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").mkdir()
    except OSError:
        yield folder
        folder.chmod(0o755)
        return
    (folder / "probe").rmdir()
    folder.chmod(0o755)
    for candidate in (Path("/sys/kernel"), Path("/sys")):
        try:
            (candidate / "crowdlearn-probe").mkdir()
        except OSError:
            yield candidate
            return
        (candidate / "crowdlearn-probe").rmdir()
    pytest.skip("no unwritable folder available")


@pytest.mark.parametrize("command", ["fit", "aggregate", "simulate", "experiment", "convert"])
def test_unwritable_destination_fails_before_any_work(
    command: str, unwritable: Path, answers_csv: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import crowdlearn.cli._common as common

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the destination was checked")

    monkeypatch.setattr(common, "load_answers", no_work)
    monkeypatch.setattr("crowdlearn.cli.aggregate.load_answers", no_work)
    monkeypatch.setattr("crowdlearn.cli.convert.load_answers", no_work)
    monkeypatch.setattr("crowdlearn.cli.fit.load_answers", no_work)
    monkeypatch.setattr("crowdlearn.datasets.protocols.run_experiment", no_work)
    monkeypatch.setattr("crowdlearn.cli.simulate.crowd_from_args", no_work)
    out = unwritable / "out"
    argv = {
        "fit": ["fit", str(answers_csv), "--features", str(answers_csv), "-o", str(out)],
        "aggregate": ["aggregate", str(answers_csv), "-s", "mv", "-o", str(out)],
        "simulate": ["simulate", "-o", str(out)],
        "experiment": ["experiment", "music", "-o", str(out)],
        "convert": ["convert", str(answers_csv), str(out), "--to", "csv"],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(out) in err, err
    assert ".tmp" not in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.skipif(os.name != "posix", reason="umask")
def test_every_writer_follows_the_umask(answers_csv: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "label.csv").write_text("item,worker,label\n0,0,1\n0,1,1\n1,0,0\n1,2,0\n")
    (src / "truth.csv").write_text("item,truth\n0,1\n1,0\n")
    out = tmp_path / "outs"
    old = os.umask(0o027)
    try:
        for argv in (["simulate", "-o", str(out / "sim"), "--n-tasks", "20", "--n-classes", "2",
                      "--workers", "one-coin:3", "--quiet"],
                     ["convert", str(answers_csv), str(out / "pa"), "--to", "peerannot",
                      "--quiet"],
                     ["convert", str(answers_csv), str(out / "a.csv"), "--to", "csv", "--quiet"],
                     ["aggregate", str(answers_csv), "-s", "mv", "-o", str(out / "agg"),
                      "--quiet"],
                     ["datasets", "install", "rte", "--root", str(out / "root"), "--from",
                      str(src), "--no-verify", "--quiet"]):
            assert main(argv) == 0, argv
    finally:
        os.umask(old)
    files = {oct(p.stat().st_mode & 0o777) for p in out.rglob("*") if p.is_file()}
    folders = {oct(p.stat().st_mode & 0o777) for p in out.rglob("*") if p.is_dir()}
    assert files == {"0o640"} and folders == {"0o750"}, (files, folders)


def test_atomic_update_keeps_subfolders_and_removes_named_files(tmp_path: Path) -> None:
    target = tmp_path / "out"
    (target / "mv").mkdir(parents=True)
    (target / "mv" / "labels.csv").write_text("mv")
    (target / "probas_x_ds.npy").write_text("old ds")
    (target / "labels_x_ds.npy").write_text("old ds")
    with atomic_update(target, remove=["labels_x_ds.npy"]) as tmp:
        (tmp / "probas_x_ds.npy").write_text("new ds")
    assert sorted(p.name for p in target.iterdir()) == ["mv", "probas_x_ds.npy"]
    assert (target / "probas_x_ds.npy").read_text() == "new ds"
    assert (target / "mv" / "labels.csv").read_text() == "mv"
    with atomic_update(target, remove=lambda name: name.endswith("_ds.npy")) as tmp:
        (tmp / "a.txt").write_text("a")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "mv"]


def test_output_into_the_current_folder_keeps_the_folder(
    answers_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-o .``: a shell in that folder must not be left in a deleted folder."""
    out = tmp_path / "here"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    inode = out.stat().st_ino
    monkeypatch.chdir(out)
    assert main(["aggregate", str(answers_csv), "-s", "mv", "-o", ".", "--quiet"]) == 0
    assert main(["aggregate", str(answers_csv), "-s", "ds", "-o", ".", "--quiet"]) == 0
    assert out.stat().st_ino == inode and Path.cwd().exists()
    names = {p.name for p in out.iterdir()}
    assert {"notes.txt", "summary_answers_ds.json", "probas_answers_mv.npy",
            "probas_answers_ds.npy"} <= names
    assert _hidden(out) == [] and _hidden(tmp_path) == []


def test_writable_folder_in_a_read_only_parent_is_updated_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crowdlearn.io._atomic as atomic

    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real = tempfile_mkdtemp = atomic.tempfile.mkdtemp

    def no_siblings(*args: object, dir: object = None, **kwargs: object) -> str:
        if Path(str(dir)) == tmp_path:
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", no_siblings)
    with atomic_update(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt", "old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "only.txt").write_text("x")
    assert sorted(p.name for p in target.iterdir()) == ["only.txt"]
    assert tempfile_mkdtemp is real
