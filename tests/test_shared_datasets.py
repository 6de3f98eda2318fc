"""Every real data set under $CROWDLEARN_DATA, read through the public readers.

The expected sizes are those documented in ``$CROWDLEARN_DATA/README.md`` (its truth-inference
table is parsed, so the test checks the README itself); the tests skip when the variable is
unset.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.io import read, read_peerannot, read_table, read_truth, read_truth_inference

TRUTH_INFERENCE = ("bluebird", "cf", "dog", "face", "labelme", "ms", "product", "relevance",
                   "rte", "sentiment", "sp", "trec", "web", "zencrowd-all")
#: data sets whose label.csv repeats (item, worker) pairs: the README counts every row
WITH_REPEATED_PAIRS = {"relevance", "zencrowd-all"}


def readme_table(data_dir: Path) -> dict[str, tuple[int, int, int, int, int]]:
    """``name -> (answers, items, workers, classes, items with truth)`` from the README."""
    rows = {}
    text = (data_dir / "README.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        m = re.match(r"\|\s*([\w-]+)\s*\|" + r"\s*([\d,]+)\s*\|" * 5, line)
        if m:
            rows[m.group(1)] = tuple(int(g.replace(",", "")) for g in m.groups()[1:])
    return rows  # type: ignore[return-value]


def sizes(a: Answers) -> tuple[int, int, int, int, int]:
    return (a.n_answers, a.n_tasks, a.n_workers, a.n_classes, int(a.truth_mask.sum()))


def test_readme_lists_every_truth_inference_folder(data_dir: Path) -> None:
    folders = sorted(p.name for p in (data_dir / "truth-inference").iterdir() if p.is_dir())
    assert folders == sorted(TRUTH_INFERENCE)
    assert sorted(readme_table(data_dir)) == sorted(TRUTH_INFERENCE)


@pytest.mark.parametrize("name", TRUTH_INFERENCE)
def test_truth_inference_dataset(data_dir: Path, name: str) -> None:
    folder = data_dir / "truth-inference" / name
    expected = readme_table(data_dir)[name]
    duplicates = "all" if name in WITH_REPEATED_PAIRS else "error"
    a = read(folder, duplicates=duplicates)
    assert a.name == name
    assert sizes(a) == expected
    assert a.truth is not None
    assert a.task_ids.dtype.kind == "i" and a.classes.tolist() == list(range(expected[3]))
    assert read_truth_inference(folder, duplicates=duplicates) == a
    assert a.summary()["majority_vote_accuracy"] > 0.5


@pytest.mark.parametrize("name", sorted(WITH_REPEATED_PAIRS))
def test_repeated_pairs_are_reported_with_lines(data_dir: Path, name: str) -> None:
    with pytest.raises(DataError, match=rf"{name}/label.csv: \d+ duplicate \(task, worker\) "
                       r"answer\(s\): task \d+ / worker \d+ at line \d+ and line \d+"):
        read(data_dir / "truth-inference" / name)
    first = read(data_dir / "truth-inference" / name, duplicates="first")
    assert not first.has_duplicate_pairs()
    assert first.n_answers < readme_table(data_dir)[name][0]


def test_music(data_dir: Path) -> None:
    music = data_dir / "music"
    a = read_table(music / "music_genre_mturk.csv", task_col="id", worker_col="annotator",
                   label_col="class")
    a = read_truth(music / "music_genre_gold.csv", a, task_col="id", truth_col="class")
    assert sizes(a) == (2945, 700, 44, 10, 700)
    assert a.classes.tolist() == ["blues", "classical", "country", "disco", "hiphop", "jazz",
                                  "metal", "pop", "reggae", "rock"]
    assert a.answers_per_task().min() >= 1  # every training song has an answer
    # the raw Mechanical Turk export (CR line endings) holds the same answers
    raw = read(music / "mturk_answers.csv", task_col="Input.song", worker_col="WorkerID",
               label_col="Answer.pred_label")
    raw = read_truth(music / "mturk_answers.csv", raw, task_col="Input.song",
                     truth_col="Input.true_label")
    assert raw == a
    # same crowd as truth-inference/ms
    ms = read(data_dir / "truth-inference" / "ms")
    assert sizes(ms) == sizes(a)


def test_peerannot_labelme(data_dir: Path) -> None:
    folder = data_dir / "peerannot-labelme"
    a = read(folder)
    assert sizes(a) == (2547, 1000, 59, 8, 1000)
    assert a.name == "peerannot-labelme"
    assert np.array_equal(a.truth, np.load(folder / "truth_labelme.npy").astype(int))
    assert read_peerannot(folder / "answers.json") == a
    # the same data set as truth-inference/labelme (answers, ids and truth)
    assert a == read(data_dir / "truth-inference" / "labelme")


def test_converting_real_data_round_trips(data_dir: Path, tmp_path: Path) -> None:
    from crowdlearn.io import write

    a = read(data_dir / "truth-inference" / "web")
    for fmt, dest in (("csv", "web.csv"), ("parquet", "web.parquet"),
                      ("peerannot", "web-peerannot"), ("truth-inference", "web-ti")):
        assert read(write(a, tmp_path / dest, format=fmt)) == a
