"""Property tests: writing then reading gives equal answers, in every format.

Random answers have integer or text ids and classes, a random subset of (task, worker) pairs,
and partial truth. Each format's documented limits shape what is generated:

* tables cannot list a class, task or worker that no answer uses (classes then come from the
  labels and the truth);
* peerannot keeps tasks without answers and every declared class, but not workers without
  answers;
* CrowdLayer matrices keep only positions: ids are ``0..n-1`` and classes ``0..max``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdlearn import Answers
from crowdlearn.io import read, write

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: text that starts with a letter (so that it cannot be read as a number) and holds characters
#: that CSV must quote: separators, quotes, spaces
TEXT = st.from_regex(r"[A-Za-z][A-Za-z0-9 _,;'\"|-]{0,6}", fullmatch=True)
INTS = st.integers(min_value=-50, max_value=10**9)


@st.composite
def crowd(draw: st.DrawFn, *, text_ids: bool, text_classes: bool) -> dict[str, Any]:
    """Raw material: id pools, class names, answered pairs with labels, truth per task."""
    ids = TEXT if text_ids else INTS
    tasks = sorted(draw(st.lists(ids, min_size=1, max_size=6, unique=True)))
    workers = sorted(draw(st.lists(ids, min_size=1, max_size=5, unique=True)))
    k = draw(st.integers(1, 4))
    names = (draw(st.lists(TEXT, min_size=k, max_size=k, unique=True)) if text_classes
             else list(range(k)))
    pairs = draw(st.lists(
        st.tuples(st.integers(0, len(tasks) - 1), st.integers(0, len(workers) - 1)),
        min_size=1, max_size=len(tasks) * len(workers), unique=True,
    ))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=len(pairs), max_size=len(pairs)))
    truth = draw(st.lists(st.integers(-1, k - 1), min_size=len(tasks), max_size=len(tasks)))
    return dict(tasks=tasks, workers=workers, names=names, pairs=pairs, labels=labels,
                truth=truth)


def table_answers(raw: dict[str, Any], with_truth: bool) -> Answers:
    t = [raw["tasks"][i] for i, _ in raw["pairs"]]
    w = [raw["workers"][j] for _, j in raw["pairs"]]
    lab = [raw["names"][c] for c in raw["labels"]]
    answers = Answers.from_arrays(np.array(t, dtype=object), np.array(w, dtype=object),
                                  np.array(lab, dtype=object), name="random")
    if not with_truth:
        return answers
    used = set(answers.task_ids.tolist())
    known = {raw["tasks"][i]: raw["names"][c] for i, c in enumerate(raw["truth"])
             if c >= 0 and raw["tasks"][i] in used
             and raw["names"][c] in set(answers.classes.tolist())}
    if not known:
        return answers
    return answers.with_truth_table(np.array(list(known), dtype=object),
                                    np.array(list(known.values()), dtype=object))


def coded_answers(raw: dict[str, Any], *, keep_workers: bool) -> Answers:
    """Answers with every task of the pool (answered or not) and all declared classes."""
    task = np.array([i for i, _ in raw["pairs"]])
    worker = np.array([j for _, j in raw["pairs"]])
    worker_ids = np.array(raw["workers"], dtype=object if isinstance(raw["workers"][0], str)
                          else np.int64)
    if not keep_workers:
        used = np.unique(worker)
        worker_ids = worker_ids[used]
        worker = np.searchsorted(used, worker)
    task_ids = np.array(raw["tasks"], dtype=object if isinstance(raw["tasks"][0], str)
                        else np.int64)
    truth = np.array(raw["truth"])
    return Answers(task, worker, np.array(raw["labels"]), task_ids=task_ids,
                   worker_ids=worker_ids, classes=np.array(raw["names"]),
                   truth=truth if (truth >= 0).any() else None, name="random")


@SETTINGS
@given(raw=st.one_of(crowd(text_ids=True, text_classes=True),
                     crowd(text_ids=False, text_classes=False),
                     crowd(text_ids=True, text_classes=False),
                     crowd(text_ids=False, text_classes=True)),
       fmt=st.sampled_from(["csv", "tsv", "parquet", "truth-inference"]),
       with_truth=st.booleans())
def test_table_round_trip(raw: dict[str, Any], fmt: str, with_truth: bool) -> None:
    answers = table_answers(raw, with_truth)
    with tempfile.TemporaryDirectory() as tmp:
        name = "data" if fmt == "truth-inference" else f"data.{fmt}"
        path = write(answers, Path(tmp) / name, format=fmt)
        back = read(path)
    assert back == answers
    assert back.classes.dtype.kind == answers.classes.dtype.kind


@SETTINGS
@given(raw=crowd(text_ids=False, text_classes=False), dup=st.data())
def test_table_round_trip_with_repeated_answers(raw: dict[str, Any], dup: st.DataObject) -> None:
    base = table_answers(raw, with_truth=False)
    extra = dup.draw(st.lists(st.integers(0, len(base) - 1), min_size=1, max_size=4))
    t = np.concatenate([base.task, base.task[extra]])
    w = np.concatenate([base.worker, base.worker[extra]])
    lab = np.concatenate([base.label, (base.label[extra] + 1) % base.n_classes])
    answers = Answers(t, w, lab, task_ids=base.task_ids, worker_ids=base.worker_ids,
                      classes=base.classes, duplicates="all")
    with tempfile.TemporaryDirectory() as tmp:
        path = write(answers, Path(tmp) / "d.csv")
        assert read(path, duplicates="all") == answers
        firsts = read(path, duplicates="first")
    assert len(firsts) == len(base) and not firsts.has_duplicate_pairs()


@SETTINGS
@given(raw=st.one_of(crowd(text_ids=True, text_classes=True),
                     crowd(text_ids=False, text_classes=False),
                     crowd(text_ids=False, text_classes=True)))
def test_peerannot_round_trip(raw: dict[str, Any]) -> None:
    answers = coded_answers(raw, keep_workers=False)
    with tempfile.TemporaryDirectory() as tmp:
        back = read(write(answers, Path(tmp) / "ds", format="peerannot"))
    assert back == answers
    assert back.name == "random"


@SETTINGS
@given(raw=crowd(text_ids=False, text_classes=False), extra_tasks=st.integers(0, 2),
       extra_workers=st.integers(0, 2), binary=st.booleans())
def test_crowdlayer_round_trip(raw: dict[str, Any], extra_tasks: int, extra_workers: int,
                               binary: bool) -> None:
    # ids are positions; trailing tasks and workers without answers are kept by the matrix
    raw["tasks"] = list(range(len(raw["tasks"]) + extra_tasks))
    raw["truth"] = raw["truth"] + [-1] * extra_tasks
    raw["workers"] = list(range(len(raw["workers"]) + extra_workers))
    answers = coded_answers(raw, keep_workers=True)
    top = max(int(answers.label.max()), int(answers.truth.max()) if answers.truth is not None
              else -1)
    answers = Answers(answers.task, answers.worker, answers.label,
                      task_ids=answers.task_ids, worker_ids=answers.worker_ids,
                      classes=np.arange(top + 1), truth=answers.truth)
    with tempfile.TemporaryDirectory() as tmp:
        path = write(answers, Path(tmp) / ("m.npy" if binary else "answers.txt"),
                     format="crowdlayer")
        back = read(path)
    assert back == answers
