"""Installing data sets: ``--from`` archives in the upstream shapes, checksums, atomicity,
the no-network error, the download path (pooch), and reading installed sets back.

Nothing here touches the network: ``pooch.retrieve`` is replaced in every test (by default with
a function that fails the test). Archives are built in ``tmp_path`` with the inner paths and
file formats of the real downloads; the real Music and truth-inference files come from
``$CROWDLEARN_DATA`` (those tests skip without it).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import pickle
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crowdlearn import DataError
from crowdlearn.cli import main
from crowdlearn.datasets import (
    REGISTRY,
    ChecksumError,
    DatasetError,
    DownloadError,
    get_record,
    install,
    installed_path,
    load,
)
from crowdlearn.datasets import installer as install_mod
from crowdlearn.datasets.convert import LABELME_CLASSES, LABELME_CROWDLAYER_ORDER
from crowdlearn.io import read, write


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download attempt fails the test unless a test installs its own fake."""
    import pooch

    def forbidden(*args: Any, **kwargs: Any) -> str:
        raise AssertionError(f"network access in a test: {args} {kwargs}")

    monkeypatch.setattr(pooch, "retrieve", forbidden)
    monkeypatch.setattr(install_mod, "RETRY_WAIT_S", 0.0)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def quiet(msg: str) -> None:
    pass


def add_tar(path: Path, files: dict[str, bytes | Path]) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for name, content in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def add_zip(path: Path, files: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, content in files.items():
            z.writestr(name, content.read_bytes() if isinstance(content, Path) else content)
    return path


def leftovers(root: Path, name: str) -> list[str]:
    return sorted(p.name for p in root.glob(f".{name}.*") if p.is_dir())


# ---------------------------------------------------------------------------------- builders
def tiny_label_files(folder: Path) -> Path:
    """label.csv / truth.csv in the truth-inference layout: 4 items, 3 workers, 2 classes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "label.csv").write_text(
        "item,worker,label\n0,0,1\n0,1,1\n1,0,0\n1,2,0\n2,1,1\n2,2,0\n3,0,0\n")
    (folder / "truth.csv").write_text("item,truth\n0,1\n1,0\n2,1\n3,0\n")
    return folder


def music_csvs(folder: Path, n_gold: int = 6, n_test: int = 3) -> dict[str, Path]:
    """Synthetic Music CSVs with the real columns (id, feature0.., class; mturk: annotator)."""
    rng = np.random.default_rng(0)
    genres = ["blues", "jazz", "rock", "pop"]
    folder.mkdir(parents=True, exist_ok=True)

    def frame(ids: list[str], extra: dict[str, list[str]] | None = None) -> pd.DataFrame:
        data: dict[str, Any] = {"id": ids}
        if extra:
            data.update(extra)
        for j in range(3):
            data[f"feature{j}"] = rng.normal(size=len(ids)).round(6)
        data["class"] = [genres[i % 4] for i in range(len(ids))]
        return pd.DataFrame(data)

    gold_ids = [f"{genres[i % 4]}.{i:05d}.mp3" for i in range(n_gold)]
    gold = frame(gold_ids)
    test = frame([f"test.{i:05d}.mp3" for i in range(n_test)])
    rows = [(s, w) for s in gold_ids for w in ("A2X", "B7Q")[: 1 + gold_ids.index(s) % 2]]
    crowd = frame([s for s, _ in rows], {"annotator": [w for _, w in rows]})
    crowd["class"] = ["rock" if w == "B7Q" else gold.set_index("id").loc[s, "class"]
                      for s, w in rows]
    paths = {}
    for name, df in (("music_genre_gold.csv", gold), ("music_genre_test.csv", test),
                     ("music_genre_mturk.csv", crowd)):
        paths[name] = folder / name
        df.to_csv(paths[name], index=False)
    return paths


def cifar_batch(n: int, seed: int, label_key: str = "labels") -> dict[bytes, Any]:
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"batch", label_key.encode(): rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def py2_pickle(obj: Any) -> bytes:
    """A protocol-2 pickle naming numpy's modules as the original (Python 2) batches do."""
    return pickle.dumps(obj, protocol=2).replace(b"numpy._core", b"numpy.core")


def cifar_tar(path: Path, n: int = 4) -> tuple[Path, np.ndarray]:
    """A tiny ``cifar-10-python.tar.gz``: 5 training batches and a test batch of ``n``."""
    files: dict[str, bytes | Path] = {}
    for i in range(1, 6):
        files[f"cifar-10-batches-py/data_batch_{i}"] = py2_pickle(cifar_batch(n, i))
    test = cifar_batch(n, 99)
    files["cifar-10-batches-py/test_batch"] = py2_pickle(test)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    files["cifar-10-batches-py/batches.meta"] = py2_pickle(
        {b"label_names": names, b"num_cases_per_batch": n, b"num_vis": 3072})
    files["cifar-10-batches-py/readme.html"] = b"<html></html>"
    return add_tar(path, files), np.array(test[b"labels"])


def cifar10h_zip(path: Path, test_labels: np.ndarray, *, wrong_truth: bool = False) -> Path:
    """``cifar10h-raw.zip`` with ``cifar10h-raw.csv``: answers plus attention-check rows."""
    rows = []
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
    for annotator in range(3):
        trial = 0
        for idx, truth in enumerate(test_labels):
            if (idx + annotator) % 3 == 0:
                continue
            chosen = int(truth) if annotator != 2 else (int(truth) + 1) % 10
            t = int(truth) if not (wrong_truth and idx == 1) else (int(truth) + 1) % 10
            rows.append([annotator, trial, t, chosen, classes[t], classes[chosen],
                         int(t == chosen), idx, f"img_{idx}.png", 0, 1234.5, 99])
            trial += 1
        # an attention check: an obvious image outside the test set
        rows.append([annotator, trial, 3, 3, "cat", "cat", 1, -99999, "attn.png", 1, 800.0, 99])
    frame = pd.DataFrame(rows, columns=[
        "annotator_id", "trial_index", "true_label", "chosen_label", "true_category",
        "chosen_category", "correct_guess", "cifar10_test_test_idx", "image_filename",
        "is_attn_check", "reaction_time", "time_elapsed"])
    return add_zip(path, {"cifar10h-raw.csv": frame.to_csv(index=False).encode()})


def idx_bytes(arr: np.ndarray) -> bytes:
    magic = bytes([0, 0, 0x08, arr.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return magic + dims + arr.astype(np.uint8).tobytes()


def mnist_files(folder: Path, n_train: int = 5, n_test: int = 3) -> list[Path]:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    out = []
    for stem, arr in arrays.items():
        p = folder / f"{stem}.gz"
        p.write_bytes(gzip.compress(idx_bytes(arr)))
        out.append(p)
    return out


def labelme_tar(path: Path) -> dict[str, Any]:
    """A tiny ``deep_LabelMe.tar.gz``: LabelMe/{train,valid,test}/<class>/*.jpg, answers.txt
    (CrowdLayer class order, -1 = no answer), filenames_*.txt, labels_*.txt, prepared/."""
    train = [("highway", "a.jpg"), ("coast", "b.jpg"), ("street", "c.jpg"),
             ("opencountry", "d.jpg")]
    answers = np.array([[0, -1, 0, -1],     # highway (CrowdLayer 0)
                        [5, 5, -1, -1],     # coast (CrowdLayer 5)
                        [-1, 3, 4, -1],     # street (3), one worker says forest (4)
                        [7, -1, -1, -1]])   # opencountry (7); worker 3 never answers
    order = list(LABELME_CROWDLAYER_ORDER)
    files: dict[str, bytes | Path] = {}
    for cls, name in train:
        files[f"LabelMe/train/{cls}/{name}"] = f"jpeg {name}".encode()
    valid = [("forest", "v1.jpg"), ("coast", "v2.jpg")]
    test = [("mountain", "t1.jpg"), ("highway", "t2.jpg"), ("insidecity", "t3.jpg")]
    for split, items in (("valid", valid), ("test", test)):
        for cls, name in items:
            files[f"LabelMe/{split}/{cls}/{name}"] = f"jpeg {name}".encode()
        files[f"LabelMe/filenames_{split}.txt"] = "\n".join(n for _, n in items).encode()
        files[f"LabelMe/labels_{split}.txt"] = "\n".join(
            str(order.index(c)) for c, _ in items).encode()
    files["LabelMe/answers.txt"] = "\n".join(" ".join(map(str, r)) for r in answers).encode()
    files["LabelMe/filenames_train.txt"] = "\n".join(n for _, n in train).encode()
    files["LabelMe/labels_train.txt"] = "\n".join(str(order.index(c)) for c, _ in train).encode()
    files["LabelMe/prepared/answers.txt"] = b"decoy: prepared features live here"
    add_tar(path, files)
    return {"train": train, "answers": answers, "valid": valid, "test": test}


SNOW_TSV = (
    "!amt_annotation_ids\t!amt_worker_ids\torig_id\tresponse\tgold\n"
    "E1\tW_A\t10\t1\t1\nE2\tW_B\t10\t2\t1\nE3\tW_A\t11\t2\t2\nE4\tW_C\t11\t2\t2\n"
    "E5\tW_B\t12\t1\t2\nE6\tW_C\t12\t2\t2\n"
)


# ---------------------------------------------------------------------------------- real data
def test_music_from_rodrigues_archive_real_files(data_dir: Path, root: Path,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    music = data_dir / "music"
    archive = add_tar(tmp_path / "mturk-datasets.tar.gz", {
        f"music_genre_classification/{n}": music / n
        for n in ("music_genre_gold.csv", "music_genre_test.csv", "music_genre_mturk.csv",
                  "mturk_answers.csv")})
    code = main(["datasets", "install", "music", "--root", str(root), "--from", str(archive)])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip() == str(root / "music")
    assert "music_genre_gold.csv: SHA-256 verified" in err
    folder = root / "music"
    answers = read(folder)
    assert (answers.n_tasks, answers.n_workers, answers.n_classes, answers.n_answers) == (
        700, 44, 10, 2945)
    assert answers.has_truth and int(answers.truth_mask.sum()) == 700
    assert answers.classes.tolist()[:3] == ["blues", "classical", "country"]
    # the same answers as the upstream files read directly
    upstream = read(music / "music_genre_mturk.csv", task_col="id", worker_col="annotator",
                    label_col="class", truth=False)
    assert sorted(map(tuple, answers.to_frame()[["label"]].value_counts().reset_index()
                      .to_numpy().tolist())) == sorted(
        map(tuple, upstream.to_frame()[["label"]].value_counts().reset_index()
            .to_numpy().tolist()))
    same, extras = load("music", root)
    assert same == answers
    assert extras["features"].shape == (700, 124) and extras["features"].dtype == np.float32
    assert extras["features_test"].shape == (300, 124)
    assert extras["test_labels"].shape == (300,) and extras["test_labels"].max() <= 9
    gold = pd.read_csv(music / "music_genre_gold.csv")
    assert extras["tasks"] == gold["id"].tolist()
    np.testing.assert_allclose(extras["features"][5], gold.iloc[5, 1:-1].to_numpy(float),
                               rtol=1e-6)
    meta = extras["metadata"]
    assert meta["n_tasks"] == 700 and meta["kind"] == "features"
    assert {s["verified"] for s in meta["source"]} == {"sha256"}
    assert main(["info", str(folder)]) == 0
    assert "tasks:     700" in capsys.readouterr().out


def test_truth_inference_real_files(data_dir: Path, root: Path, tmp_path: Path) -> None:
    src = data_dir / "truth-inference" / "bluebird"
    archive = add_zip(tmp_path / "bluebird.zip", {"bluebird/label.csv": src / "label.csv",
                                                  "bluebird/truth.csv": src / "truth.csv"})
    path = install("bluebirds", root, source=archive, log=quiet)
    a = read(path)
    assert (a.n_answers, a.n_tasks, a.n_workers, a.n_classes) == (4212, 108, 39, 2)
    assert a == read(src).rename("bluebirds")
    meta = json.loads((path / "metadata.json").read_text())
    assert [s["verified"] for s in meta["source"]] == ["sha256", "sha256"]
    assert meta["source"][0]["from"].endswith("bluebird.zip:bluebird/label.csv")


def test_truth_inference_with_repeated_pairs(data_dir: Path, root: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """zencrowd-all repeats (item, worker) pairs: every answer is kept, as the registry counts."""
    src = data_dir / "truth-inference" / "zencrowd-all"
    path = install("zencrowd-all", root, source=[src / "label.csv", src / "truth.csv"],
                   log=quiet)
    a = read(path)
    upstream = read(src, duplicates="all")
    assert a.n_answers == upstream.n_answers == get_record("zencrowd-all").n_answers == 21_855
    assert np.array_equal(a.label, upstream.label) and np.array_equal(a.truth, upstream.truth)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["n_answers"] == 21_855 and meta["duplicates"] == "all"
    assert meta["repeated_answers"] == 21_855 - read(src, duplicates="last").n_answers == 1730
    assert "duplicate_answers_dropped" not in meta
    assert load("zencrowd-all", root)[0].n_answers == 21_855
    assert main(["info", str(path)]) == 0
    assert "answers:   21,855" in capsys.readouterr().out
    # an explicit policy still applies to the installed folder
    assert read(path, duplicates="last").n_answers == 21_855 - 1730


def test_repeated_answers_in_a_small_fabricated_archive(root: Path, tmp_path: Path) -> None:
    """Conflicting and identical repeats of (item, worker) are all installed, in file order."""
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "label.csv").write_text("item,worker,label\n0,0,1\n0,1,1\n0,0,0\n1,0,0\n1,0,0\n")
    (folder / "truth.csv").write_text("item,truth\n0,1\n1,0\n")
    archive = add_zip(tmp_path / "x.zip", {"x/label.csv": folder / "label.csv",
                                           "x/truth.csv": folder / "truth.csv"})
    path = install("rte", root, source=archive, verify=False, log=quiet)
    a = read(path)
    assert len(a) == 5
    assert a.to_frame().values.tolist() == [[0, 0, 1], [0, 0, 0], [0, 1, 1], [1, 0, 0],
                                            [1, 0, 0]]
    meta = json.loads((path / "metadata.json").read_text())
    assert (meta["n_answers"], meta["repeated_answers"], meta["duplicates"]) == (5, 2, "all")
    text = (path / "answers.json").read_text()
    assert json.loads(text) == {"0": {"0": 0, "1": 1}, "1": {"0": 0}}  # plain json: the last
    with pytest.raises(DataError, match=r"answers.json cannot hold two answers"):
        write(a, tmp_path / "plain", format="peerannot")


def test_download_path_with_real_files(data_dir: Path, root: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --from: pooch.retrieve is called with the registry's hash, a browser
    User-Agent and a progress bar; the cached file is verified and used."""
    import pooch

    calls: list[dict[str, Any]] = []

    def fake_retrieve(url: str, known_hash: str | None = None, fname: str | None = None,
                      path: Any = None, progressbar: bool = False, downloader: Any = None,
                      **kwargs: Any) -> str:
        calls.append({"url": url, "known_hash": known_hash, "fname": fname, "path": path,
                      "progressbar": progressbar, "downloader": downloader})
        assert fname is not None
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / "truth-inference" / "rte" / fname, target)
        return str(target)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    monkeypatch.setenv("CROWDLEARN_PROGRESS", "1")  # bars are drawn only for a terminal
    path = install("rte", root, log=quiet)
    assert [c["fname"] for c in calls] == ["label.csv", "truth.csv"]
    record = get_record("rte")
    assert [c["url"] for c in calls] == [f.urls[0] for f in record.files]
    assert [c["known_hash"] for c in calls] == [f"sha256:{f.sha256}" for f in record.files]
    assert all(Path(c["path"]) == root / ".downloads" / "rte" for c in calls)
    assert all(c["progressbar"] for c in calls)
    downloader = calls[0]["downloader"]
    assert isinstance(downloader, pooch.HTTPDownloader)
    assert downloader.kwargs["headers"]["User-Agent"].startswith("Mozilla/5.0")
    a = read(path)
    assert (a.n_answers, a.n_tasks, a.n_workers) == (8000, 800, 164)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["source"][0]["url"] == record.files[0].urls[0]
    assert meta["source"][0]["verified"] == "sha256"


# ---------------------------------------------------------------------------------- errors
def test_checksum_mismatch_names_both_hashes(root: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tiny_label_files(tmp_path / "rte")
    expected = get_record("rte").files[0].sha256
    got = install_mod.file_hashes(folder / "label.csv")["sha256"]
    with pytest.raises(ChecksumError) as exc:
        install("rte", root, source=folder, log=quiet)
    msg = str(exc.value)
    assert f"expected {expected}, got {got}" in msg and "--no-verify" in msg
    assert "\n" not in msg
    assert not (root / "rte").exists() and leftovers(root, "rte") == []
    # the command line: one line, exit status 2
    code = main(["datasets", "install", "rte", "--root", str(root), "--from", str(folder)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("crowdlearn datasets: error: ") and expected in err and got in err
    # --no-verify accepts the file deliberately and says so in metadata.json
    path = install("rte", root, source=folder, verify=False, log=quiet)
    meta = json.loads((path / "metadata.json").read_text())
    assert all(s["verified"].startswith("no") for s in meta["source"])
    assert meta["source"][0]["sha256"] == got
    assert read(path).n_answers == 7


def test_md5_mismatch(root: Path, tmp_path: Path) -> None:
    archive, _ = cifar_tar(tmp_path / "cifar-10-python.tar.gz")
    with pytest.raises(ChecksumError, match=r"MD5 mismatch for cifar-10-python.tar.gz: "
                       r"expected c58f30108f718f92721af3b95e74349a, got [0-9a-f]{32}"):
        install("cifar10", root, source=archive, log=quiet)
    assert not (root / "cifar10").exists()


@pytest.mark.parametrize("error", ["requests", "builtin", "timeout"])
def test_no_network_suggests_from(error: str, root: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import pooch
    import requests

    attempts: list[str] = []

    def offline(url: str, **kwargs: Any) -> str:
        attempts.append(url)
        if error == "requests":
            raise requests.exceptions.ConnectionError(
                f"HTTPSConnectionPool: Max retries exceeded with url: {url}\n(Name resolution)")
        if error == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out")
        raise ConnectionError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(DownloadError) as exc:
        install("rte", root, log=quiet)
    msg = str(exc.value)
    record = get_record("rte")
    assert "\n" not in msg
    assert "crowdlearn datasets install rte --from FOLDER" in msg
    assert "label.csv" in msg and "truth.csv" in msg
    assert all(f.urls[0] in msg for f in record.files)
    # the first file is tried ATTEMPTS times; the others are not waited for once offline
    assert attempts == [record.files[0].urls[0]] * install_mod.ATTEMPTS
    assert not (root / "rte").exists() and leftovers(root, "rte") == []
    # a single-file data set names the expected file after --from
    assert main(["datasets", "install", "labelme", "--root", str(root), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--from deep_LabelMe.tar.gz" in err
    assert "http://fprodrigues.com/deep_LabelMe.tar.gz" in err


def test_mirror_is_tried_after_a_failure(root: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    src = tiny_label_files(tmp_path / "dog")
    tried: list[str] = []

    def flaky(url: str, known_hash: str | None = None, fname: str | None = None,
              path: Any = None, **kwargs: Any) -> str:
        tried.append(url)
        if "SpectralMethodsMeetEM" in url:
            raise ConnectionError("connection reset")
        assert fname is not None
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / fname, target)
        return str(target)

    monkeypatch.setattr(pooch, "retrieve", flaky)
    path = install("dog", root, verify=False, progress=False, log=quiet)
    assert any("s4_Dog%20data" in u for u in tried)
    assert read(path).n_answers == 7


def test_download_without_known_hash_prints_the_hash(root: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    archive = add_tar(tmp_path / "all_collected_data.tgz",
                      {"temp.standardized.tsv": SNOW_TSV.encode()})

    def fake(url: str, known_hash: str | None = None, fname: str | None = None,
             path: Any = None, **kwargs: Any) -> str:
        assert known_hash is None  # nothing to check against
        assert fname is not None
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, target)
        return str(target)

    monkeypatch.setattr(pooch, "retrieve", fake)
    notes: list[str] = []
    path = install("temp", root, log=notes.append)
    sha = install_mod.file_hashes(archive)["sha256"]
    assert any("no checksum" in n and "NOT verified" in n and sha in n for n in notes)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["source"][0]["sha256"] == sha
    assert meta["source"][0]["verified"].startswith("no")


def test_prepare_failure_leaves_no_folder(root: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(inputs: Any, out: Path, record: Any) -> dict[str, Any]:
        (out / "answers.json").write_text("{}")
        (out / "raw").mkdir()
        (out / "raw" / "half.bin").write_bytes(b"x" * 100)
        raise DataError("conversion failed half-way", source="test")

    record = dataclasses.replace(get_record("rte"), prepare=broken)
    monkeypatch.setitem(REGISTRY, "rte", record)
    folder = tiny_label_files(tmp_path / "rte")
    with pytest.raises(DataError, match="conversion failed half-way"):
        install("rte", root, source=folder, verify=False, log=quiet)
    assert not (root / "rte").exists()
    assert leftovers(root, "rte") == []


def test_bad_content_leaves_no_folder_and_keeps_the_old_copy(root: Path,
                                                            tmp_path: Path) -> None:
    good = tiny_label_files(tmp_path / "good")
    install("web", root, source=good, verify=False, log=quiet)
    bad = tiny_label_files(tmp_path / "bad")
    (bad / "truth.csv").write_text("item,truth\n0,1\n9,0\n")  # item 9 has no answers
    with pytest.raises(DataError, match=r"truth\.csv"):
        install("web", root, source=bad, verify=False, force=True, log=quiet)
    assert read(root / "web").n_answers == 7  # the installed copy is untouched
    assert leftovers(root, "web") == []


def test_interrupted_installation_leftovers_are_removed(root: Path, tmp_path: Path) -> None:
    (root / ".rte.abc123.tmp" / "raw").mkdir(parents=True)
    (root / ".rte.x.work").mkdir()
    (root / ".rtefoo.y.tmp").mkdir()  # another data set's: kept
    install("rte", root, source=tiny_label_files(tmp_path / "s"), verify=False, log=quiet)
    assert leftovers(root, "rte") == []
    assert (root / ".rtefoo.y.tmp").is_dir()


def test_already_installed_needs_force(root: Path, tmp_path: Path) -> None:
    src = tiny_label_files(tmp_path / "s")
    install("rte", root, source=src, verify=False, log=quiet)
    with pytest.raises(DatasetError, match=r"already installed .* \(use --force"):
        install("rte", root, source=src, verify=False, log=quiet)
    (src / "label.csv").write_text("item,worker,label\n0,0,1\n1,0,0\n2,1,1\n3,1,0\n")
    install("rte", root, source=src, verify=False, force=True, log=quiet)
    assert read(root / "rte").n_answers == 4


def test_from_file_that_matches_nothing(root: Path, tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("x")
    with pytest.raises(DatasetError, match=r"not one of the files of rte \(expected "
                       r"label\.csv, truth\.csv"):
        install("rte", root, source=stray, log=quiet)
    with pytest.raises(DatasetError, match="no such file or folder"):
        install("rte", root, source=tmp_path / "missing.zip", log=quiet)


def test_cli_from_with_several_names_is_an_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["datasets", "install", "rte", "web", "--from", str(tmp_path)])
    assert code == 2
    assert "--from takes the files of one data set" in capsys.readouterr().err


def test_load_not_installed(root: Path) -> None:
    with pytest.raises(DatasetError, match=r"rte is not installed .* crowdlearn datasets "
                       r"install rte --root"):
        load("rte", root)
    assert installed_path("rte", root) is None


# ---------------------------------------------------------------------------------- formats
def test_music_synthetic_archive(root: Path, tmp_path: Path) -> None:
    csvs = music_csvs(tmp_path / "csv")
    archive = add_tar(tmp_path / "mturk-datasets.tar.gz", {
        f"music_genre_classification/{n}": p for n, p in csvs.items()}
        | {"._music_genre_mturk.csv": b"\x00\x05mac resource fork"})
    with pytest.raises(ChecksumError):
        install("music", root, source=archive, log=quiet)
    path = install("music", root, source=archive, verify=False, log=quiet)
    a, extras = load("music", root)
    assert a is not None and path == root / "music"
    assert (a.n_tasks, a.n_workers, a.n_answers) == (6, 2, 9)
    assert a.task_ids.tolist() == list(range(6)) and extras["workers"] == ["A2X", "B7Q"]
    assert extras["features"].shape == (6, 3) and extras["features_test"].shape == (3, 3)
    gold = pd.read_csv(csvs["music_genre_gold.csv"])
    assert [a.classes[t] for t in a.truth] == gold["class"].tolist()


def test_music_unknown_song_is_an_error_naming_the_line(root: Path, tmp_path: Path) -> None:
    csvs = music_csvs(tmp_path / "csv")
    crowd = pd.read_csv(csvs["music_genre_mturk.csv"])
    crowd.loc[3, "id"] = "nowhere.00001.mp3"
    crowd.to_csv(csvs["music_genre_mturk.csv"], index=False)
    with pytest.raises(DataError, match=r"music_genre_mturk\.csv: line 5: field 'id': song not "
                       r"in music_genre_gold\.csv: 'nowhere\.00001\.mp3'"):
        install("music", root, source=tmp_path / "csv", verify=False, log=quiet)
    assert not (root / "music").exists()


def test_cifar10h(root: Path, tmp_path: Path) -> None:
    archive, test_labels = cifar_tar(tmp_path / "cifar-10-python.tar.gz", n=6)
    answers_zip = cifar10h_zip(tmp_path / "cifar10h-raw.zip", test_labels)
    path = install("cifar10h", root, source=[answers_zip, archive], verify=False, log=quiet)
    a = read(path)
    raw = pd.read_csv(zipfile.ZipFile(answers_zip).open("cifar10h-raw.csv"))
    kept = raw[raw["is_attn_check"] == 0]
    assert a.n_answers == len(kept) == len(raw) - 3
    assert a.n_tasks == 6 and a.n_workers == 3 and a.n_classes == 10
    assert a.classes[0] == "airplane"
    assert np.array_equal(a.truth, test_labels)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["attention_checks_dropped"] == 3
    assert meta["raw"]["folder"] == "raw/cifar-10-batches-py"
    batches = path / "raw" / "cifar-10-batches-py"
    assert sorted(p.name for p in batches.iterdir()) == sorted(
        ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)])
    # annotator 2 always answers the next class
    frame = a.to_frame()
    assert ((frame["worker"] == 2) == (frame["label"] != a.classes[a.truth[frame["task"]]])).all()


def test_cifar10h_truth_mismatch_is_an_error(root: Path, tmp_path: Path) -> None:
    archive, test_labels = cifar_tar(tmp_path / "cifar-10-python.tar.gz", n=4)
    answers_zip = cifar10h_zip(tmp_path / "cifar10h-raw.zip", test_labels, wrong_truth=True)
    with pytest.raises(DataError, match=r"cifar10h-raw\.csv: line \d+: field 'true_label'"):
        install("cifar10h", root, source=[answers_zip, archive], verify=False, log=quiet)
    assert not (root / "cifar10h").exists()


def test_cifar10_and_images_contract(root: Path, tmp_path: Path) -> None:
    archive, test_labels = cifar_tar(tmp_path / "cifar.tgz", n=4)  # a renamed download
    path = install("cifar10", root, source=archive, verify=False, log=quiet)
    answers, extras = load("cifar10", root)
    assert answers is None and extras["raw"] == path / "raw"
    meta = extras["metadata"]
    assert (meta["n_tasks"], meta["n_test"], meta["n_classes"]) == (20, 4, 10)
    assert meta["classes"][9] == "truck" and meta["kind"] == "images"
    images = pytest.importorskip("crowdlearn.datasets.images")
    loaded = images.load_cifar10(path, cache=False)
    assert loaded.train_x.shape == (20, 3, 32, 32)
    assert np.array_equal(loaded.test_y, test_labels)


def test_cifar_batches_are_unpickled_safely(root: Path, tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
            return (print, ("owned",))

    archive, _ = cifar_tar(tmp_path / "cifar-10-python.tar.gz")
    with tarfile.open(archive) as t:
        files = {m.name: t.extractfile(m).read() for m in t.getmembers()  # type: ignore[union-attr]
                 if m.isfile()}
    files["cifar-10-batches-py/data_batch_3"] = pickle.dumps({b"data": Evil()})
    (tmp_path / "bad").mkdir()
    bad = add_tar(tmp_path / "bad" / "cifar-10-python.tar.gz", files)
    with pytest.raises(DataError, match=r"data_batch_3: not a CIFAR python batch .*builtins"):
        install("cifar10", root, source=bad, verify=False, log=quiet)


def test_mnist_from_gz_files_and_from_extracted_folder(root: Path, tmp_path: Path) -> None:
    files = mnist_files(tmp_path / "dl")
    path = install("mnist", root, source=files, verify=False, log=quiet)
    meta = json.loads((path / "metadata.json").read_text())
    assert (meta["n_tasks"], meta["n_test"]) == (5, 3)
    assert sorted(p.name for p in (path / "raw").iterdir()) == sorted(
        f.name[:-3] for f in files)
    with pytest.raises(ChecksumError, match="MD5 mismatch for train-images-idx3-ubyte.gz"):
        install("mnist", root, source=files, force=True, log=quiet)
    # the idx files decompressed by hand: accepted, noted as unverifiable
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in files:
        (plain / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
    notes: list[str] = []
    install("mnist", root, source=plain, force=True, log=notes.append)
    assert sum("cannot be verified" in n for n in notes) == 4
    images = pytest.importorskip("crowdlearn.datasets.images")
    loaded = images.load_mnist(path, cache=False)
    assert loaded.train_x.shape[0] == 5 and loaded.test_x.shape[0] == 3


def test_mnist_bad_header(root: Path, tmp_path: Path) -> None:
    files = mnist_files(tmp_path / "dl")
    files[1].write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09abc"))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: size 11 bytes does not "
                       r"match its header \(9,\)"):
        install("mnist", root, source=files, verify=False, log=quiet)


def test_labelme(root: Path, tmp_path: Path) -> None:
    spec = labelme_tar(tmp_path / "deep_LabelMe.tar.gz")
    notes: list[str] = []
    path = install("labelme", root, source=tmp_path / "deep_LabelMe.tar.gz", log=notes.append)
    assert any("no checksum" in n and "NOT verified" in n for n in notes)
    a = read(path)
    assert a.classes.tolist() == list(LABELME_CLASSES)
    assert (a.n_tasks, a.n_workers, a.n_answers) == (4, 3, 7)
    assert a.worker_ids.tolist() == [0, 1, 2]  # CrowdLayer columns; column 3 never answers
    expected_truth = [LABELME_CLASSES.index(c) for c, _ in spec["train"]]
    assert a.truth.tolist() == expected_truth
    # CrowdLayer's label 4 (forest) -> alphabetical index 1
    frame = a.to_frame()
    assert frame.query("task == 2 and worker == 2")["label"].item() == "forest"
    for i, (cls, name) in enumerate(spec["train"]):
        assert (path / "train" / cls / f"{Path(name).stem}-{i}.jpg").read_bytes() == (
            f"jpeg {name}".encode())
    assert sorted(p.relative_to(path).as_posix() for p in (path / "val").rglob("*.jpg")) == [
        "val/coast/v2-1.jpg", "val/forest/v1-0.jpg"]
    assert len(list((path / "test").rglob("*.jpg"))) == 3
    # peerannot's own reader logic: without the truth file, train/ folders give the truth
    (path / "truth_labelme.npy").unlink()
    assert read(path).truth.tolist() == expected_truth


def test_labelme_label_disagreeing_with_folder(root: Path, tmp_path: Path) -> None:
    archive = tmp_path / "deep_LabelMe.tar.gz"
    labelme_tar(archive)
    with tarfile.open(archive) as t:
        files = {m.name: t.extractfile(m).read() for m in t.getmembers()  # type: ignore[union-attr]
                 if m.isfile()}
    files["LabelMe/labels_train.txt"] = b"1\n5\n3\n7\n"  # first image is not insidecity
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    add_tar(bad_dir / "deep_LabelMe.tar.gz", files)
    with pytest.raises(DataError, match=r"labels_train\.txt: line 1: label of a\.jpg"):
        install("labelme", root, source=bad_dir / "deep_LabelMe.tar.gz", log=quiet)
    assert not (root / "labelme").exists()


def test_temp_from_archive_and_from_member(root: Path, tmp_path: Path) -> None:
    archive = add_tar(tmp_path / "all_collected_data.tgz",
                      {"temp.standardized.tsv": SNOW_TSV.encode(),
                       "rte.standardized.tsv": b"other task\n"})
    path = install("temp", root, source=archive, log=quiet)
    a = read(path)
    assert a.classes.tolist() == [1, 2]
    assert (a.n_tasks, a.n_workers, a.n_answers) == (3, 3, 6)
    assert a.truth.tolist() == [0, 1, 1]
    assert load("temp", root)[1]["tasks"] == ["10", "11", "12"]
    member = tmp_path / "temp.standardized.tsv"
    member.write_text(SNOW_TSV)
    notes: list[str] = []
    install("temp", root, source=member, force=True, log=notes.append)
    assert any("cannot be verified" in n for n in notes)
    assert read(root / "temp") == a


def test_cli_install_quiet_and_list_shows_installed(root: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    src = tiny_label_files(tmp_path / "s")
    code = main(["datasets", "install", "sp", "--root", str(root), "--from", str(src),
                 "--no-verify", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0 and out == "" and err == ""
    assert main(["datasets", "list", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    assert " yes " in lines["sp"] and " no " in lines["rte"]
    assert main(["datasets", "show", "sp", "--root", str(root)]) == 0
    assert f"installed:   {root / 'sp'}" in capsys.readouterr().out


def test_default_root_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROWDLEARN_HOME", str(tmp_path / "home"))
    path = install("rte", source=tiny_label_files(tmp_path / "s"), verify=False, log=quiet)
    assert path == tmp_path / "home" / "rte"
    assert installed_path("rte") == path
    answers, extras = load("rte")
    assert answers is not None and extras["path"] == path


def test_download_checksum_mismatch_and_local_errors(root: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    calls: list[str] = []

    def corrupted(url: str, known_hash: str | None = None, **kwargs: Any) -> str:
        calls.append(url)
        raise ValueError(f"SHA256 hash of downloaded file (label.csv) does not match the known "
                         f"hash: expected {known_hash} but got 0123abcd. Deleted download.")

    monkeypatch.setattr(pooch, "retrieve", corrupted)
    expected = get_record("rte").files[0].sha256
    with pytest.raises(ChecksumError, match=rf"expected sha256:{expected} but got 0123abcd.*"
                       r"--no-verify"):
        install("rte", root, log=quiet)
    assert len(calls) == install_mod.ATTEMPTS  # downloaded again once, then refused

    def disk_full(url: str, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied", str(root / ".downloads"))

    monkeypatch.setattr(pooch, "retrieve", disk_full)
    with pytest.raises(PermissionError):  # a local problem, not reported as "no network"
        install("rte", root, log=quiet)
    assert not (root / "rte").exists()


def test_labelme_from_an_extracted_folder_copies_the_users_files(root: Path,
                                                                 tmp_path: Path) -> None:
    labelme_tar(tmp_path / "deep_LabelMe.tar.gz")
    extracted = tmp_path / "by-hand"
    with tarfile.open(tmp_path / "deep_LabelMe.tar.gz") as t:
        t.extractall(extracted, filter="data")
    before = sorted(p.relative_to(extracted) for p in extracted.rglob("*"))
    notes: list[str] = []
    path = install("labelme", root, source=extracted, log=notes.append)
    assert any("cannot be verified" in n for n in notes)
    assert sorted(p.relative_to(extracted) for p in extracted.rglob("*")) == before
    assert read(path).n_answers == 7
    assert len(list((path / "train").rglob("*.jpg"))) == 4


def test_no_empty_folder_stays_behind(root: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """After an install from local files only the data set's folder is new under the root; a
    failed install into a root it created leaves no root at all."""
    folder = tiny_label_files(tmp_path / "rte-files")
    install("rte", root, source=folder, verify=False, log=quiet)
    assert sorted(p.name for p in root.iterdir()) == ["rte"]

    def broken(inputs: Any, out: Path, record: Any) -> dict[str, Any]:
        raise DataError("conversion failed", source="test")

    monkeypatch.setitem(REGISTRY, "web", dataclasses.replace(get_record("web"), prepare=broken))
    fresh = tmp_path / "fresh-root"
    with pytest.raises(DataError, match="conversion failed"):
        install("web", fresh, source=folder, verify=False, log=quiet)
    assert not fresh.exists()
