"""The data set registry, ``crowdlearn datasets list`` / ``show`` and the public API around them.

No test here touches the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crowdlearn import CrowdlearnError
from crowdlearn.cli import main
from crowdlearn.datasets import (
    REGISTRY,
    DatasetRecord,
    default_root,
    get_record,
    list_datasets,
    names,
)

REQUIRED = ("music", "labelme", "cifar10h", "bluebirds", "rte", "temp", "dog", "web",
            "cifar10", "mnist")
#: registry name -> folder name under $CROWDLEARN_DATA/truth-inference
SHARED_TRUTH_INFERENCE = {"bluebirds": "bluebird", "rte": "rte", "dog": "dog", "web": "web",
                          "trec": "trec", "cf": "cf", "ms": "ms", "sp": "sp",
                          "zencrowd-all": "zencrowd-all", "product": "product",
                          "sentiment": "sentiment", "face": "face", "relevance": "relevance"}


def test_required_data_sets_are_registered() -> None:
    assert set(REQUIRED) <= set(names())
    assert names() == [r.name for r in list_datasets()]


def test_records_are_frozen_and_complete() -> None:
    for record in REGISTRY.values():
        assert isinstance(record, DatasetRecord)
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.name = "x"  # type: ignore[misc]
        assert record.description and record.licence and record.citation and record.reference
        assert record.files and callable(record.prepare)
        assert record.kind in ("labels", "features", "images")
        for f in record.files:
            assert f.fname and f.urls
            assert all(u.startswith(("https://", "http://")) for u in f.urls)
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
            assert f.md5 is None or re.fullmatch(r"[0-9a-f]{32}", f.md5)
        assert len(record.urls) >= len(record.files)
        assert record.file_names == tuple(f.fname for f in record.files)


def test_hash_policy() -> None:
    """Hashes are recorded exactly for the files we could check; the others say so."""
    assert get_record("music").checksums == "sha256"
    assert all(get_record(n).checksums == "sha256" for n in SHARED_TRUTH_INFERENCE)
    assert get_record("cifar10").checksums == "md5"
    assert get_record("mnist").checksums == "md5"
    assert get_record("labelme").checksums == "none"
    assert get_record("temp").checksums == "none"
    assert get_record("cifar10h").checksums == "partial"
    assert get_record("cifar10h").files[0].sha256 is None


def test_aliases_and_unknown_names() -> None:
    assert get_record("bluebird") is get_record("bluebirds")
    assert get_record(" CIFAR-10H ") is get_record("cifar10h")
    with pytest.raises(CrowdlearnError, match=r"unknown data set 'nope'; known: music, "):
        get_record("nope")


def test_registry_hashes_match_the_shared_copies(data_dir: Path) -> None:
    """Every SHA-256 recorded for Music and the truth-inference sets is that of the copy."""
    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    for f in get_record("music").files:
        local = data_dir / "music" / f.fname
        assert sha(local) == f.sha256 and local.stat().st_size == f.size
    for name, folder in SHARED_TRUTH_INFERENCE.items():
        for f in get_record(name).files:
            local = data_dir / "truth-inference" / folder / f.fname
            assert sha(local) == f.sha256, (name, f.fname)
            assert local.stat().st_size == f.size


def test_registry_counts_are_every_upstream_answer(data_dir: Path) -> None:
    """The sizes ``datasets list`` shows are those of the files with every answer kept (the
    installer keeps repeated (item, worker) answers, so installed counts agree, issue 10)."""
    from crowdlearn.io import read

    for name, folder in SHARED_TRUTH_INFERENCE.items():
        r = get_record(name)
        a = read(data_dir / "truth-inference" / folder, duplicates="all")
        assert (a.n_answers, a.n_tasks, a.n_workers, a.n_classes) == (
            r.n_answers, r.n_tasks, r.n_workers, r.n_classes), name


def test_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROWDLEARN_HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home"
    monkeypatch.delenv("CROWDLEARN_HOME")
    assert default_root() == Path.home() / ".crowdlearn" / "datasets"


def test_list_as_frame(tmp_path: Path) -> None:
    frame = list_datasets(tmp_path, as_frame=True)
    assert list(frame["name"]) == names()
    assert {"download", "tasks", "workers", "classes", "licence", "installed"} <= set(
        frame.columns)
    row = frame.set_index("name").loc["music"]
    assert (row["tasks"], row["workers"], row["classes"]) == (700, 44, 10)
    assert row["download"] == "4.6 MB" and not row["installed"]


def test_cli_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:8] == ["name", "kind", "download", "tasks", "workers", "classes", "answers",
                          "checksums"]
    assert "licence" in header and "reference" in header
    for name in REQUIRED:
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), name
    assert re.search(r"^cifar10h\s+images\s+>170\.5 MB\s+10000\s+2571\s+10\s+514200\s+partial",
                     out, re.M)
    assert f"ROOT: {tmp_path}" in out


def test_cli_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "list", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in records}
    assert by_name["rte"]["files"][0]["fname"] == "label.csv"
    assert by_name["rte"]["size"] == 68_738 + 4_701
    assert by_name["labelme"]["files"][0]["sha256"] is None


def test_cli_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "show", "labelme", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "http://fprodrigues.com/deep_LabelMe.tar.gz" in out
    assert "no checksum known: not verified" in out
    assert "installed:   no" in out
    assert main(["datasets", "show", "nope"]) == 2
    assert "unknown data set 'nope'" in capsys.readouterr().err


def test_cli_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "install" in out and "Example:" in out


@pytest.mark.parametrize("argv", [["datasets", "--help"], ["datasets", "install", "--help"]])
def test_help_has_examples_and_imports_nothing_heavy(argv: list[str]) -> None:
    probe = (
        "import sys\nfrom crowdlearn.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('numpy', 'pandas', 'torch', 'pooch', "
        "'requests') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "Example:" in out and "crowdlearn datasets install" in out
    assert out.splitlines()[-1] == "LOADED:"
