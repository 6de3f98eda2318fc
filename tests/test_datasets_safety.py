"""Installer safety: bounded extraction, no unverifiable plain-HTTP download, a clean ROOT, and
``install`` of an installed data set returning its path."""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from crowdlearn import DataError
from crowdlearn.cli import main
from crowdlearn.datasets import _limits, install
from crowdlearn.datasets import installer as install_mod
from crowdlearn.datasets.installer import DatasetError
from crowdlearn.io import read

LABELS = "item,worker,label\n0,0,1\n0,1,1\n1,0,0\n1,2,0\n2,1,1\n2,2,0\n3,0,0\n"
TRUTH = "item,truth\n0,1\n1,0\n2,1\n3,0\n"


def quiet(msg: str) -> None:
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    def forbidden(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(pooch, "retrieve", forbidden)


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_limits, "MIN_BUDGET", 1 << 20)
    monkeypatch.setattr(_limits, "MAX_FILES", 50)


def _bomb_zip(path: Path, size: int) -> Path:
    """label.csv padded with ``size`` bytes of blank lines (compresses about 1000 to 1)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("label.csv", LABELS + "\n" * size)
        z.writestr("truth.csv", TRUTH)
    return path


# ---------------------------------------------------------------------- bounded extraction
def test_zip_bomb_is_refused_before_writing(tmp_path: Path, small_limits: None) -> None:
    bomb = _bomb_zip(tmp_path / "rte.zip", 8 << 20)  # 8 MiB from about 8 KiB
    assert bomb.stat().st_size < 64 << 10
    root = tmp_path / "root"
    with pytest.raises(DataError, match=r"refused to extract: it expands to 8\.0 MiB") as info:
        install("rte", root, source=bomb, verify=False, log=quiet)
    assert "rte.zip" in str(info.value) and "\n" not in str(info.value)
    assert not (root / "rte").exists()
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 1 << 20


def test_tar_with_too_many_files_is_refused(tmp_path: Path, small_limits: None) -> None:
    archive = tmp_path / "many.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        for i in range(60):
            data = LABELS.encode() if i == 0 else b"x"
            info = tarfile.TarInfo("label.csv" if i == 0 else f"junk/{i}.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match=r"it holds 60 files"):
        install_mod._extract(archive, tmp_path / "out")
    assert not any((tmp_path / "out").rglob("*.txt"))


def test_a_zip_lying_about_sizes_is_stopped_while_writing(tmp_path: Path,
                                                           small_limits: None) -> None:
    archive = _bomb_zip(tmp_path / "a.zip", 4 << 20)
    budget = _limits.ExtractionBudget(archive)
    budget.check_declared([10])  # a header claiming 10 bytes
    with pytest.raises(DataError, match="expands to more than"), \
            zipfile.ZipFile(archive) as z, z.open("label.csv") as src:
        budget.copy(src, io.BytesIO())


def test_ordinary_archive_still_installs(tmp_path: Path) -> None:
    archive = _bomb_zip(tmp_path / "rte.zip", 0)
    path = install("rte", tmp_path / "root", source=archive, verify=False, log=quiet)
    assert read(path).n_answers == 7


# ---------------------------------------------------------------------- plain HTTP
def test_plain_http_without_checksum_is_refused_unless_no_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pooch

    root = tmp_path / "root"
    assert main(["datasets", "install", "labelme", "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "plain HTTP" in err and "--no-verify" in err
    assert "--from deep_LabelMe.tar.gz" in err and not root.joinpath("labelme").exists()

    urls: list[str] = []

    def offline(url: str, **kwargs: Any) -> str:
        urls.append(url)
        raise ConnectionError("offline")

    monkeypatch.setattr(pooch, "retrieve", offline)
    monkeypatch.setattr(install_mod, "RETRY_WAIT_S", 0)
    with pytest.raises(install_mod.DownloadError):
        install("labelme", root, verify=False, log=quiet)
    assert urls and urls[0].startswith("http://")  # --no-verify: the user's choice


def test_plain_http_mirror_is_skipped_when_unverifiable(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from crowdlearn.datasets.registry import RemoteFile

    rf = RemoteFile("x.csv", ("http://a/x.csv", "https://b/x.csv"))
    assert install_mod._usable_urls(rf, True) == ["https://b/x.csv"]
    assert install_mod._usable_urls(rf, False) == ["http://a/x.csv", "https://b/x.csv"]
    hashed = RemoteFile("x.csv", ("http://a/x.csv",), sha256="0" * 64)
    assert install_mod._usable_urls(hashed, True) == ["http://a/x.csv"]  # the hash verifies


# ---------------------------------------------------------------------- ROOT stays clean
def test_no_lock_file_or_download_cache_is_left(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    src = tmp_path / "src"
    src.mkdir()
    (src / "label.csv").write_text(LABELS)
    (src / "truth.csv").write_text(TRUTH)

    def fake(url: str, fname: str | None = None, path: Any = None, **kwargs: Any) -> str:
        target = Path(path) / str(fname)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / str(fname), target)
        return str(target)

    monkeypatch.setattr(pooch, "retrieve", fake)
    root = tmp_path / "root"
    install("rte", root, verify=False, log=quiet)
    assert sorted(p.name for p in root.iterdir()) == ["rte"]
    assert main(["datasets", "install", "web", "--root", str(root), "--no-verify", "--quiet",
                 "--keep-downloads"]) == 0
    assert sorted(p.name for p in root.iterdir()) == [".downloads", "rte", "web"]


def test_install_of_an_installed_set_returns_its_path(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "label.csv").write_text(LABELS)
    (src / "truth.csv").write_text(TRUTH)
    root = tmp_path / "root"
    first = install("rte", root, source=src, verify=False, log=quiet)
    notes: list[str] = []
    assert install("rte", root, log=notes.append) == first  # no download, no error
    assert any("already installed" in n for n in notes)
    (src / "label.csv").write_text("item,worker,label\n0,0,1\n1,0,0\n2,1,1\n3,1,0\n")
    install("rte", root, source=src, verify=False, force=True, log=quiet)
    assert read(first).n_answers == 4
    with pytest.raises(DatasetError, match="already installed"):  # given files: say so
        install("rte", root, source=src, verify=False, log=quiet)


def test_no_verify_help_shows_no_misleading_default(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    with pytest.raises(SystemExit):
        main(["datasets", "install", "--help"])
    text = capsys.readouterr().out
    assert "--no-verify" in text and "(default: True)" not in text
