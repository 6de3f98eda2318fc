"""peerannot folders: answers.json, metadata.json, truth files, train/<class>/ layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.io import read, read_peerannot, write, write_peerannot

TOY = {"0": {"0": 1, "1": 0, "2": 1, "3": 1}, "1": {"0": 1, "2": 0, "3": 0},
       "2": {"1": 1, "3": 1}}


def make_folder(path: Path, answers: object, metadata: dict | None = None,
                raw: str | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "answers.json").write_text(raw if raw is not None else json.dumps(answers, indent=3))
    if metadata is not None:
        (path / "metadata.json").write_text(json.dumps(metadata))
    return path


def test_read_peerannot_toy_data(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "toy-data", TOY,
                         {"name": "toy-data", "n_classes": 2, "n_workers": 4, "n_tasks": 3})
    a = read(folder)
    assert (a.n_tasks, a.n_workers, a.n_classes, len(a)) == (3, 4, 2, 9)
    assert a.task_ids.dtype.kind == "i" and a.task_ids.tolist() == [0, 1, 2]
    assert a.worker_ids.tolist() == [0, 1, 2, 3]
    assert a.name == "toy-data"
    assert a.dense_matrix().tolist() == [[1, 0, 1, 1], [1, -1, 0, 0], [-1, 1, -1, 1]]
    assert read(folder / "answers.json") == a


def test_without_metadata_classes_come_from_labels_and_truth(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", TOY)
    a = read(folder)
    assert a.n_classes == 2 and a.name == "ds"
    np.save(folder / "truth_ds.npy", np.array([4.0, 1.0, np.nan]))
    b = read(folder)
    assert b.classes.tolist() == [0, 1, 2, 3, 4]
    assert b.truth.tolist() == [4, 1, -1]


def test_metadata_n_classes_bounds_labels(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", {"0": {"5": 0}, "1": {"5": 3}},
                         {"name": "ds", "n_classes": 3})
    with pytest.raises(DataError, match=r'answers.json: task "1", worker "5": field \'label\': '
                       r"label 3 is outside the 3 declared classes"):
        read(folder)


def test_text_keys_stay_text_and_empty_tasks_are_kept(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", {"img-b": {"ann1": 0}, "img-a": {"ann2": 1, "7": 1},
                                           "img-c": {}})
    a = read(folder)
    assert a.task_ids.tolist() == ["img-a", "img-b", "img-c"]
    assert a.worker_ids.tolist() == ["7", "ann1", "ann2"]
    assert a.answers_per_task().tolist() == [2, 1, 0]


def test_non_canonical_integer_keys_stay_text(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", {"007": {"1": 0}, "8": {"1": 1}})
    assert read(folder).task_ids.tolist() == ["007", "8"]


def test_class_names_in_metadata(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", {"0": {"0": 2, "1": 0}, "1": {"0": 1}},
                         {"name": "pets", "n_classes": 3, "n_workers": 2,
                          "classes": ["cat", "dog", "bird"]})
    a = read(folder)
    assert a.classes.tolist() == ["cat", "dog", "bird"]
    assert a.to_frame()["label"].tolist() == ["bird", "cat", "dog"]


def test_class_names_count_must_match(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", TOY, {"n_classes": 3, "classes": ["a", "b"]})
    with pytest.raises(DataError, match=r"metadata.json: field 'classes': 2 class names but "
                       r"n_classes is 3"):
        read(folder)


def test_n_workers_is_checked(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", TOY, {"n_classes": 2, "n_workers": 3})
    with pytest.raises(DataError, match=r"metadata.json: field 'n_workers': n_workers is 3 but "
                       r"answers.json has worker 3"):
        read(folder)


def test_bad_metadata_values(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", TOY, {"n_classes": "two"})
    with pytest.raises(DataError, match=r"metadata.json: field 'n_classes': expected a positive"):
        read(folder)


def test_round_trip_text_ids_and_class_names(tmp_path: Path) -> None:
    a = Answers.from_arrays(["t2", "t1", "t1", "t3"], ["w1", "w2", "w1", "w3"],
                            ["dog", "cat", "cat", "bird"], truth={"t1": "cat", "t3": "dog"},
                            name="pets")
    folder = write(a, tmp_path / "out", format="peerannot")
    assert sorted(p.name for p in folder.iterdir()) == [
        "answers.json", "metadata.json", "truth_pets.npy"]
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta == {"name": "pets", "n_classes": 3, "n_workers": 3, "nb_workers": 3,
                    "n_task": 3, "classes": ["bird", "cat", "dog"]}
    body = json.loads((folder / "answers.json").read_text())
    assert body == {"t1": {"w1": 1, "w2": 1}, "t2": {"w1": 2}, "t3": {"w3": 0}}
    assert np.load(folder / "truth_pets.npy").tolist() == [1, -1, 2]
    back = read(folder)
    assert back == a and back.name == "pets"


def test_round_trip_integer_ids_with_empty_task(tmp_path: Path) -> None:
    a = Answers(np.array([0, 0, 2]), np.array([0, 1, 0]), np.array([0, 1, 2]),
                task_ids=np.arange(3), worker_ids=np.array([3, 5]), classes=np.arange(4),
                truth=np.array([3, 0, -1]), name="ints")
    folder = write_peerannot(a, tmp_path / "ints")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["n_workers"] == 6 and meta["nb_workers"] == 2 and "classes" not in meta
    assert json.loads((folder / "answers.json").read_text())["1"] == {}
    assert read(folder) == a


def test_duplicate_pairs_cannot_be_written(tmp_path: Path) -> None:
    a = Answers.from_arrays([1, 1], [2, 2], [0, 1], duplicates="all")
    with pytest.raises(DataError, match=r"cannot hold two answers of one worker"):
        write(a, tmp_path / "d", format="peerannot")


def test_repeated_json_keys_follow_duplicates_policy(tmp_path: Path) -> None:
    raw = '{"0": {"1": 1, "2": 0, "1": 0},\n "1": {"1": 1}}'
    folder = make_folder(tmp_path / "ds", None, raw=raw)
    with pytest.raises(DataError, match=r'1 duplicate .*task "0", worker "1"'):
        read(folder)
    assert read(folder, duplicates="first").label.tolist() == [1, 0, 1]
    assert read(folder, duplicates="last").label.tolist() == [0, 0, 1]
    assert len(read(folder, duplicates="all")) == 4


def test_ground_truth_npy_of_peerannot_simulate(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "sim", TOY, {"name": "hammer-spammer", "n_classes": 2,
                                                 "n_workers": 4, "n_task": 3})
    np.save(folder / "ground_truth.npy", np.array([1, 0, 1]))
    assert read(folder).truth.tolist() == [1, 0, 1]
    assert read(folder, truth=False).truth is None


def test_several_truth_files_need_a_choice(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", TOY, {"name": "ds"})
    np.save(folder / "truth_a.npy", np.array([1, 0, 1]))
    np.save(folder / "truth_b.npy", np.array([0, 0, 1]))
    with pytest.raises(DataError, match=r"several truth files"):
        read(folder)
    assert read(folder, truth=folder / "truth_b.npy").truth.tolist() == [0, 0, 1]
    np.save(folder / "truth_ds.npy", np.array([1, 1, 1]))
    assert read(folder).truth.tolist() == [1, 1, 1]


def test_truth_derived_from_train_class_folders(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "toy", TOY, {"name": "toy", "n_classes": 2,
                                                 "classes": ["notsmiles", "smiles"]})
    for rel in ("train/smiles/smile-2.png", "train/smiles/xtrasmile-0.png",
                "train/notsmiles/frown-1.png"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"")
    a = read(folder)
    assert a.truth.tolist() == [1, 0, 1]
    (folder / "train" / "cats").mkdir()
    assert read(folder).truth is None  # folders not all named after classes: nothing derived


def test_train_file_without_task_index(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "toy", TOY, {"classes": ["a", "b"]})
    (folder / "train" / "a").mkdir(parents=True)
    (folder / "train" / "a" / "picture.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"picture.png: image name must end with -<task index>"):
        read(folder)


def test_writing_into_a_dataset_folder_keeps_images(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", TOY, {"name": "ds", "n_classes": 2})
    np.save(folder / "truth_ds.npy", np.array([1, 0, 1]))
    (folder / "train" / "0").mkdir(parents=True)
    (folder / "train" / "0" / "img-1.png").write_bytes(b"png")
    a = read(folder, truth=False)
    write(a, folder, format="peerannot")
    assert (folder / "train" / "0" / "img-1.png").read_bytes() == b"png"
    assert not (folder / "truth_ds.npy").exists()  # stale truth removed: answers had none
    assert read(folder, truth=False) == a
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_rewriting_replaces_folder_atomically(tmp_path: Path) -> None:
    a = Answers.from_arrays([0, 1], [0, 0], [0, 1], truth={0: 0}, name="first")
    b = Answers.from_arrays([0, 1, 2], [0, 0, 1], [1, 1, 0], name="second")
    out = tmp_path / "out"
    write(a, out, format="peerannot")
    write(b, out)  # format detected from the existing folder
    assert sorted(p.name for p in out.iterdir()) == ["answers.json", "metadata.json"]
    assert read(out) == b
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_non_integer_label_names_task_and_worker(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", {"0": {"1": 1}, "4": {"w9": "cat"}})
    with pytest.raises(DataError, match=r'answers.json: task "4", worker "w9": field \'label\': '
                       r"non-integer label 'cat'"):
        read_peerannot(folder)
    make_folder(folder, {"0": {"1": 1.5}})
    with pytest.raises(DataError, match=r'task "0", worker "1".*non-integer value 1.5'):
        read_peerannot(folder)
    make_folder(folder, {"0": {"1": True}})
    with pytest.raises(DataError, match=r'task "0", worker "1".*non-integer label True'):
        read_peerannot(folder)


def test_whole_float_labels_are_accepted(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", {"0": {"1": 1.0, "2": 0}})
    assert read(folder).label.tolist() == [1, 0]


def test_structure_errors(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", [1, 2])
    with pytest.raises(DataError, match=r"expected a JSON object \{task: \{worker: label\}\}"):
        read(folder)
    make_folder(folder, {"0": {"1": 1}, "1": [1, 2]})
    with pytest.raises(DataError, match=r'answers.json: task "1": expected an object '
                       r"\{worker: label\}, got an array"):
        read(folder)
    make_folder(folder, {})
    with pytest.raises(DataError, match=r"answers.json: no tasks"):
        read(folder)
    make_folder(folder, {"0": {}, "1": {}})
    with pytest.raises(DataError, match=r"answers.json: no answers"):
        read(folder)


def test_folder_without_answers_json(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no answers.json in the folder"):
        read_peerannot(tmp_path)
