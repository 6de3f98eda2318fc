"""Image loaders on tiny fake data sets: CIFAR-10 batches, MNIST idx files, folders of images."""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from crowdlearn.datasets import images
from crowdlearn.datasets.images import (
    FOOD11_CLASSES,
    ImageSet,
    load_cifar10,
    load_image_folder,
    load_mnist,
)
from crowdlearn.errors import DataError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(autouse=True)
def user_cache(tmp_path_factory: pytest.TempPathFactory,
               monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache folder of these tests ($CROWDLEARN_CACHE), outside the data folders."""
    folder = tmp_path_factory.mktemp("usercache")
    monkeypatch.setenv("CROWDLEARN_CACHE", str(folder))
    return folder


def cache_entry(user_cache: Path, loader: str) -> Path:
    """The one cache entry of ``loader`` (``images/<loader>-<hash>``)."""
    (entry,) = (user_cache / "images").glob(f"{loader}-*")
    return entry


def bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def forbid(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} called: the cache was not used")

    monkeypatch.setattr(module, name, fail)


# ---------------------------------------------------------------------------- CIFAR-10
def write_cifar(folder: Path, n_per_batch: int = 4, n_test: int = 3, protocol: int = 2) -> dict:
    """Fake cifar-10-batches-py: pixel value = (image index + channel) % 256."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    truth = {"train_x": [], "train_y": [], "test_x": None, "test_y": None}
    for b in range(1, 7):
        n = n_per_batch if b < 6 else n_test
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        batch = {b"batch_label": b"fake", b"labels": labels, b"data": data,
                 b"filenames": [f"img_{b}_{i}.png".encode() for i in range(n)]}
        name = f"data_batch_{b}" if b < 6 else "test_batch"
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=protocol)
        if b < 6:
            truth["train_x"].append(data.reshape(n, 3, 32, 32))
            truth["train_y"].extend(labels)
        else:
            truth["test_x"], truth["test_y"] = data.reshape(n, 3, 32, 32), labels
    meta = {b"label_names": [c.encode() for c in CLASSES], b"num_cases_per_batch": n_per_batch,
            b"num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=protocol)
    truth["train_x"] = np.concatenate(truth["train_x"])
    return truth


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_loads_batches(tmp_path: Path, protocol: int) -> None:
    truth = write_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    data = load_cifar10(tmp_path / "cifar-10-batches-py", cache=False)
    assert isinstance(data, ImageSet)
    assert data.train_x.shape == (20, 3, 32, 32) and data.train_x.dtype == np.uint8
    assert data.test_x.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(data.train_x, truth["train_x"])
    np.testing.assert_array_equal(data.test_x, truth["test_x"])
    assert data.train_y.dtype == np.int64
    assert data.train_y.tolist() == truth["train_y"] and data.test_y.tolist() == truth["test_y"]
    assert data.classes == tuple(CLASSES) and data.n_classes == 10
    assert data.train_ids.tolist() == list(range(20)) and data.test_ids.tolist() == [0, 1, 2]
    assert data.val_x is None and data.splits == ("train", "test")
    assert data.image_shape == (3, 32, 32)
    assert "10 classes" in repr(data)


@pytest.mark.parametrize("where", ["parent", "raw", "raw-parent", "tar", "tar-file"])
def test_cifar10_folder_variants(tmp_path: Path, where: str, user_cache: Path) -> None:
    if where == "parent":
        write_cifar(tmp_path / "cifar-10-batches-py")
    elif where == "raw":
        write_cifar(tmp_path / "raw")
    elif where == "raw-parent":
        write_cifar(tmp_path / "raw" / "cifar-10-batches-py")
    else:
        write_cifar(tmp_path / "build" / "cifar-10-batches-py")
        with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tf:
            tf.add(tmp_path / "build" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    given = tmp_path / "cifar-10-python.tar.gz" if where == "tar-file" else tmp_path
    data = load_cifar10(given)
    assert data.train_x.shape == (20, 3, 32, 32)
    assert not (tmp_path / ".cache").exists()  # never in the data folder
    assert cache_entry(user_cache, "cifar10").is_dir()
    again = load_cifar10(given)
    assert again.from_cache
    np.testing.assert_array_equal(again.train_x, data.train_x)


def test_cifar10_cache_created_reused_and_invalidated(tmp_path: Path, user_cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    truth = write_cifar(folder)
    first = load_cifar10(folder)
    assert not first.from_cache
    entry = cache_entry(user_cache, "cifar10")
    assert (entry / "fingerprint.json").is_file()
    assert (entry / "train_x.npy").is_file() and (entry / "test_y.npy").is_file()
    written = (entry / "train_x.npy").stat().st_mtime_ns

    with monkeypatch.context() as m:
        forbid(m, images.cifar10, "_decode_cifar10")
        second = load_cifar10(folder)
    assert second.from_cache
    assert isinstance(second.train_x, np.memmap) and second.train_x.dtype == np.uint8
    assert second.train_x.flags.writeable  # copy-on-write: usable by torch without warnings
    np.testing.assert_array_equal(second.train_x, truth["train_x"])
    assert second.train_y.tolist() == truth["train_y"] and second.classes == tuple(CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns about read-only arrays: none here
        assert torch.as_tensor(np.ascontiguousarray(second.train_x)).shape == (20, 3, 32, 32)
    second.train_x[0] = 0  # copy-on-write: the cache file is not changed
    np.testing.assert_array_equal(load_cifar10(folder).train_x, truth["train_x"])
    assert (entry / "train_x.npy").stat().st_mtime_ns == written

    # a source file changes: decoded again, cache rewritten
    with open(folder / "test_batch", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    batch[b"labels"] = [9, 9, 9]
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch, f, protocol=2)
    bump_mtime(folder / "test_batch")
    third = load_cifar10(folder)
    assert not third.from_cache and third.test_y.tolist() == [9, 9, 9]
    fourth = load_cifar10(folder)
    assert fourth.from_cache and fourth.test_y.tolist() == [9, 9, 9]

    # mtime alone is enough to invalidate
    bump_mtime(folder / "data_batch_3")
    assert not load_cifar10(folder).from_cache


def test_cache_dir_elsewhere_and_no_cache(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    write_cifar(folder)
    load_cifar10(folder, cache=False)
    assert not (folder / ".cache").exists()
    cache = tmp_path / "cache"
    load_cifar10(folder, cache_dir=cache)
    assert not (folder / ".cache").exists()
    assert [p.name.startswith("cifar10-") for p in cache.iterdir()] == [True]
    assert load_cifar10(folder, cache_dir=cache).from_cache


def test_corrupt_cache_is_rebuilt(tmp_path: Path, user_cache: Path) -> None:
    folder = tmp_path / "c"
    write_cifar(folder)
    load_cifar10(folder)
    entry = cache_entry(user_cache, "cifar10")
    (entry / "train_x.npy").write_bytes(b"garbage")
    again = load_cifar10(folder)
    assert not again.from_cache and again.train_x.shape == (20, 3, 32, 32)
    (entry / "fingerprint.json").write_text("{not json")
    assert not load_cifar10(folder).from_cache
    assert load_cifar10(folder).from_cache


def test_unwritable_cache_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "c"
    write_cifar(folder)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images.cache, "_write_entry", refuse)
    with pytest.warns(UserWarning, match="could not write the image cache"):
        data = load_cifar10(folder)
    assert data.train_x.shape == (20, 3, 32, 32)


def test_cifar10_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        load_cifar10(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no CIFAR-10 python batches"):
        load_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match=r"data_batch_4: missing CIFAR-10 batch file"):
        load_cifar10(folder)
    (folder / "data_batch_4").write_bytes(b"\x80\x02not a pickle at all")
    with pytest.raises(DataError, match=r"data_batch_4: not a CIFAR-10 python pickle"):
        load_cifar10(folder)
    with open(folder / "data_batch_4", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(DataError, match=r"data_batch_4: field 'data': expected uint8 \(N, 3072\)"):
        load_cifar10(folder)
    with open(folder / "data_batch_4", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0, 12]}, f)
    with pytest.raises(DataError, match=r"field 'labels': label 12 is not in 0..9"):
        load_cifar10(folder)
    with open(folder / "data_batch_4", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0]}, f)
    with pytest.raises(DataError, match=r"1 labels for 2 images"):
        load_cifar10(folder)


def test_cifar10_refuses_arbitrary_pickled_objects(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    write_cifar(folder)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({b"data": Path("x"), b"labels": []}, f)  # any global but numpy's is refused
    with pytest.raises(DataError, match=r"data_batch_2: not a CIFAR-10 python pickle \(refusing"):
        load_cifar10(folder, cache=False)


# ---------------------------------------------------------------------------- MNIST
def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_mnist(folder: Path, gz: bool, n_train: int = 7, n_test: int = 3) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": (rng.integers(0, 256, (n_train, 28, 28)), 2051),
        "train-labels-idx1-ubyte": (rng.integers(0, 10, n_train), 2049),
        "t10k-images-idx3-ubyte": (rng.integers(0, 256, (n_test, 28, 28)), 2051),
        "t10k-labels-idx1-ubyte": (rng.integers(0, 10, n_test), 2049),
    }
    for name, (arr, magic) in arrays.items():
        raw = idx_bytes(arr, magic)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return {name: arr for name, (arr, _) in arrays.items()}


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loads_idx_files(tmp_path: Path, gz: bool) -> None:
    truth = write_mnist(tmp_path, gz)
    data = load_mnist(tmp_path, cache=False)
    assert data.train_x.shape == (7, 1, 28, 28) and data.train_x.dtype == np.uint8
    assert data.test_x.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(data.train_x[:, 0], truth["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.test_x[:, 0], truth["t10k-images-idx3-ubyte"])
    assert data.train_y.dtype == np.int64
    np.testing.assert_array_equal(data.train_y, truth["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(data.test_y, truth["t10k-labels-idx1-ubyte"])
    assert data.classes == tuple(str(k) for k in range(10))
    assert data.train_x.flags.writeable


def test_mnist_torchvision_layout_cache_and_classes(tmp_path: Path, user_cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tmp_path / "MNIST" / "raw"
    write_mnist(raw, gz=True)
    first = load_mnist(tmp_path)
    # the cache is in the user's cache folder, not among the data files
    assert not first.from_cache
    assert (cache_entry(user_cache, "mnist") / "fingerprint.json").is_file()
    assert not (raw / ".cache").exists() and not (tmp_path / ".cache").exists()
    with monkeypatch.context() as m:
        forbid(m, images.mnist, "_decode_mnist")
        second = load_mnist(tmp_path, classes=[f"c{k}" for k in range(10)])
    assert second.from_cache and second.classes[3] == "c3"
    np.testing.assert_array_equal(second.train_x, first.train_x)
    with pytest.raises(DataError, match="class names"):
        load_mnist(tmp_path, classes=["a", "b"])
    # rewriting one file invalidates the cache
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.array([1, 1, 1]), 2049)))
    bump_mtime(raw / "t10k-labels-idx1-ubyte.gz")
    third = load_mnist(tmp_path)
    assert not third.from_cache and third.test_y.tolist() == [1, 1, 1]


def test_mnist_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no MNIST idx files"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: missing MNIST file"):
        load_mnist(tmp_path)
    labels.write_bytes(idx_bytes(np.array([1, 2, 3]), 2051))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: header: magic number 2051, "
                                        r"expected 2049"):
        load_mnist(tmp_path, cache=False)
    labels.write_bytes(idx_bytes(np.array([1, 2, 3]), 2049)[:-1])
    with pytest.raises(DataError, match=r"2 bytes of data, expected 3"):
        load_mnist(tmp_path, cache=False)
    labels.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match=r"too short"):
        load_mnist(tmp_path, cache=False)
    labels.write_bytes(idx_bytes(np.array([1, 2]), 2049))
    with pytest.raises(DataError, match=r"2 labels for 3 images"):
        load_mnist(tmp_path, cache=False)
    labels.unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08 broken gzip")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: cannot read"):
        load_mnist(tmp_path, cache=False)


# ---------------------------------------------------------------------------- image folders
def save_png(path: Path, value: int, size: tuple[int, int] = (6, 5), mode: str = "RGB") -> None:
    """A solid image of ``size`` (height, width) whose red channel is ``value``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = size
    if mode == "L":
        Image.fromarray(np.full((h, w), value, dtype=np.uint8), mode="L").save(path)
        return
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[..., 0] = value
    arr[..., 1] = np.arange(w, dtype=np.uint8)[None, :]
    arr[..., 2] = 7
    Image.fromarray(arr).save(path)


def write_peerannot(root: Path, size: tuple[int, int] = (6, 5)) -> None:
    """train/<class>/<class>-<index>.png, val/ and test/ alike (peerannot's installers)."""
    index = 0
    for split, per_class in (("train", 3), ("val", 1), ("test", 2)):
        for k, cls in enumerate(["cat", "dog"]):
            for _ in range(per_class):
                save_png(root / split / cls / f"{cls}-{index}.png", 10 * k + index, size)
                index += 1
    (root / "answers.json").write_text("{}")  # other files of the data set are ignored
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    (root / "train" / "cat" / ".hidden.png").write_bytes(b"junk")


def test_image_folder_peerannot_layout(tmp_path: Path) -> None:
    write_peerannot(tmp_path)
    data = load_image_folder(tmp_path, cache=False)
    assert data.classes == ("cat", "dog")
    assert data.train_x.shape == (6, 3, 6, 5) and data.train_x.dtype == np.uint8
    assert data.val_x.shape == (2, 3, 6, 5) and data.test_x.shape == (4, 3, 6, 5)
    assert data.splits == ("train", "val", "test")
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1] and data.test_y.tolist() == [0, 0, 1, 1]
    assert data.train_ids.tolist() == ["cat/cat-0.png", "cat/cat-1.png", "cat/cat-2.png",
                                       "dog/dog-3.png", "dog/dog-4.png", "dog/dog-5.png"]
    # pixel content: red = value, green = column, blue = 7 (channel-major)
    assert data.train_x[4, 0].tolist() == [[14] * 5] * 6
    assert data.train_x[0, 1, 0].tolist() == [0, 1, 2, 3, 4]
    assert (data.train_x[:, 2] == 7).all()
    # the peerannot task index instead of the path
    indexed = load_image_folder(tmp_path, ids="index", cache=False)
    assert indexed.train_ids.tolist() == [0, 1, 2, 3, 4, 5]
    assert indexed.val_ids.tolist() == [6, 7] and indexed.test_ids.tolist() == [8, 9, 10, 11]
    # select: rows of given task ids in that order (text and integers match)
    x, y = indexed.select(["4", 1])
    np.testing.assert_array_equal(x, indexed.train_x[[4, 1]])
    assert y.tolist() == [1, 0]
    with pytest.raises(DataError, match="task '99' has no image in the train split"):
        indexed.select([99])
    x, y = data.select(np.array(["dog/dog-3.png"]))
    assert y.tolist() == [1]


def test_image_folder_resize_grayscale_and_nested_parent(tmp_path: Path) -> None:
    root = tmp_path / "outer" / "labelme"
    save_png(root / "train" / "a" / "x-0.png", 200, (8, 12))
    save_png(root / "train" / "b" / "y-1.png", 100, (5, 5), mode="L")
    data = load_image_folder(tmp_path / "outer", size=(4, 6), cache=False)
    assert data.source == str(root)
    assert data.train_x.shape == (2, 3, 4, 6)
    assert (data.train_x[1] == 100).all()  # grayscale decoded to RGB
    assert (data.train_x[0, 0] == 200).all()
    assert data.test_x.shape == (0, 3, 4, 6) and data.test_ids.shape == (0,)
    assert data.val_x is None
    load_image_folder(root, size=(4, 6))
    cached = load_image_folder(root, size=(4, 6))  # empty arrays survive the cache
    assert cached.from_cache and cached.test_x.shape == (0, 3, 4, 6) and cached.val_x is None
    np.testing.assert_array_equal(cached.train_x, data.train_x)
    square = load_image_folder(root, size=3, cache=False)
    assert square.train_x.shape == (2, 3, 3, 3)


def test_image_folder_mixed_sizes_error(tmp_path: Path) -> None:
    save_png(tmp_path / "train" / "a" / "first.png", 1, (6, 5))
    save_png(tmp_path / "train" / "b" / "other.png", 1, (7, 5))
    with pytest.raises(DataError) as info:
        load_image_folder(tmp_path, cache=False)
    message = str(info.value)
    assert "other.png" in message and "first.png" in message
    assert "7x5" in message and "6x5" in message and "size=" in message
    assert load_image_folder(tmp_path, size=(6, 5), cache=False).train_x.shape == (2, 3, 6, 5)


def test_image_folder_food11_layouts(tmp_path: Path) -> None:
    flat = tmp_path / "food-11"
    for split in ("training", "validation", "evaluation"):
        for label in (0, 3, 10):
            save_png(flat / split / f"{label}_{label + 1}.jpg", label)
    data = load_image_folder(flat, cache=False)
    assert data.classes == FOOD11_CLASSES
    assert data.train_y.tolist() == [0, 10, 3]  # sorted file names: 0_1, 10_11, 3_4
    assert data.val_x.shape[0] == 3 and data.test_x.shape[0] == 3
    assert data.test_ids.tolist() == ["0_1.jpg", "10_11.jpg", "3_4.jpg"]

    kaggle = tmp_path / "kaggle"
    for split in ("training", "validation", "evaluation"):
        for name in ("Bread", "Egg", "Vegetable-Fruit"):
            save_png(kaggle / split / name / "1.jpg", 5)
    data = load_image_folder(kaggle, cache=False)
    assert data.classes == ("Bread", "Egg", "Vegetable-Fruit")
    assert data.train_y.tolist() == [0, 1, 2]


def test_image_folder_cache_reuse_and_invalidation(tmp_path: Path, user_cache: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_peerannot(tmp_path)
    first = load_image_folder(tmp_path)
    assert not first.from_cache
    assert not (tmp_path / ".cache").exists()  # the user's data folder is left alone
    entries = sorted(p.name.rsplit("-", 1)[0] for p in (user_cache / "images").iterdir())
    assert entries == ["image_folder-ids=path"]
    with monkeypatch.context() as m:
        forbid(m, images.image_folder, "_decode_image_folder")
        second = load_image_folder(tmp_path)
        assert second.from_cache
        np.testing.assert_array_equal(second.val_x, first.val_x)
        assert second.train_ids.tolist() == first.train_ids.tolist()
        assert second.classes == first.classes
        assert load_image_folder(tmp_path).classes == ("cat", "dog")
    # other parameters: another cache entry
    resized = load_image_folder(tmp_path, size=4)
    assert not resized.from_cache and resized.train_x.shape == (6, 3, 4, 4)
    assert cache_entry(user_cache, "image_folder-size=4x4-ids=path").is_dir()
    assert load_image_folder(tmp_path, size=4).from_cache
    # a changed image
    save_png(tmp_path / "test" / "dog" / "dog-11.png", 99)
    bump_mtime(tmp_path / "test" / "dog" / "dog-11.png")
    changed = load_image_folder(tmp_path)
    assert not changed.from_cache and (changed.test_x[3, 0] == 99).all()
    assert load_image_folder(tmp_path).from_cache
    # an added image, then a new (empty) class folder
    save_png(tmp_path / "train" / "dog" / "dog-12.png", 1)
    assert load_image_folder(tmp_path).train_x.shape[0] == 7
    (tmp_path / "val" / "emu").mkdir()
    grown = load_image_folder(tmp_path)
    assert not grown.from_cache and grown.classes == ("cat", "dog", "emu")
    # a removed image
    (tmp_path / "train" / "dog" / "dog-12.png").unlink()
    assert load_image_folder(tmp_path).train_x.shape[0] == 6


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no train/"):
        load_image_folder(tmp_path)
    save_png(tmp_path / "train" / "a" / "good-0.png", 1)
    (tmp_path / "train" / "a" / "bad-1.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match=r"bad-1.png: not a readable image"):
        load_image_folder(tmp_path, cache=False)
    (tmp_path / "train" / "a" / "bad-1.png").unlink()
    save_png(tmp_path / "train" / "b" / "nameless.png", 1)
    with pytest.raises(DataError, match=r"nameless.png: no task index in the file name"):
        load_image_folder(tmp_path, ids="index", cache=False)
    (tmp_path / "train" / "b" / "nameless.png").rename(tmp_path / "train" / "b" / "dup-0.png")
    with pytest.raises(DataError, match=r"dup-0.png: task index 0 is also the index of"):
        load_image_folder(tmp_path, ids="index", cache=False)
    save_png(tmp_path / "train" / "stray.png", 1)
    with pytest.raises(DataError, match=r"stray.png: image file outside the class folders"):
        load_image_folder(tmp_path, cache=False)
    (tmp_path / "train" / "stray.png").unlink()
    save_png(tmp_path / "test" / "flat.png", 1)
    with pytest.raises(DataError, match=r"flat.png: expected class sub-folders"):
        load_image_folder(tmp_path, cache=False)
    (tmp_path / "test" / "flat.png").rename(tmp_path / "test" / "1_0.png")
    with pytest.raises(DataError, match=r"test: this split has flat files"):
        load_image_folder(tmp_path, cache=False)
    (tmp_path / "test" / "1_0.png").unlink()
    (tmp_path / "test" / "empty").mkdir()
    with pytest.raises(DataError, match=r"test: no images in the class folders"):
        load_image_folder(tmp_path, cache=False)
    with pytest.raises(ValueError, match="ids"):
        load_image_folder(tmp_path, ids="stem")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        load_image_folder(tmp_path, size=(1, 2, 3))  # type: ignore[arg-type]


def test_default_cache_folder_follows_xdg_and_crowdlearn_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crowdlearn.datasets.images import default_cache_dir

    monkeypatch.delenv("CROWDLEARN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "crowdlearn"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "crowdlearn"
    monkeypatch.setenv("CROWDLEARN_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
