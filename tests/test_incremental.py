"""Incremental aggregation: partial_fit, sweep, the saved state and ``aggregate --update``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import make_strategy
from crowdlearn.aggregate.incremental import load_state, save_state
from crowdlearn.aggregate.incremental._log import AnswerLog
from crowdlearn.errors import DataError
from crowdlearn.simulate import simulate


def _crowd(n_tasks: int = 600, k: int = 3, n_workers: int = 30, seed: int = 0) -> Answers:
    return simulate(n_tasks, k, n_workers, seed=seed, activity="power-law").answers


def _frames(answers: Answers, n_batches: int, seed: int = 1) -> list[pd.DataFrame]:
    """The answers as DataFrames of raw ids, in random arrival order."""
    frame = answers.to_frame()
    frame["task"] = "t" + frame["task"].astype(str)
    frame["label"] = np.array(["ant", "bee", "cat", "dog", "eel"])[frame["label"].astype(int)]
    order = np.random.default_rng(seed).permutation(len(frame))
    return [frame.iloc[part].reset_index(drop=True) for part in np.array_split(order, n_batches)]


def _aligned(inc, full_frame: pd.DataFrame, full) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(incremental labels, full-fit labels, incremental probas in the full fit's order)."""
    tasks = list(full.labels_.index)
    pos = {v: i for i, v in enumerate(inc.task_ids_.tolist())}
    rows = np.array([pos[t] for t in tasks])
    cls = np.array(inc.classes_.tolist(), dtype=object)
    col = {v: i for i, v in enumerate(cls.tolist())}
    cols = np.array([col[c] for c in full.probas_.columns])
    return cls[inc.labels_[rows]], full.labels_.to_numpy(), inc.probas_[rows][:, cols]


def _run(name: str, batches: list[pd.DataFrame], **params):
    inc = make_strategy(name, **params)
    for b in batches:
        inc.partial_fit(b)
    return inc


def test_answer_log_finds_every_answer_of_the_asked_tasks():
    log = AnswerLog()
    rng = np.random.default_rng(0)
    tasks = []
    for _ in range(5):
        t = rng.integers(0, 50, 40)
        log.append(t, rng.integers(0, 9, 40), rng.integers(0, 3, 40), 50)
        tasks.append(t)
    allt = np.concatenate(tasks)
    ask = np.array([3, 7, 49, 11])
    got = np.sort(log.answers_of(ask))
    assert np.array_equal(got, np.flatnonzero(np.isin(allt, ask)))


def test_majority_vote_partial_fit_equals_a_full_fit():
    a = _crowd()
    batches = _frames(a, 7)
    inc = _run("mv", batches, tie_break="first")
    full = make_strategy("mv", tie_break="first").fit(pd.concat(batches))
    mine, theirs, probas = _aligned(inc, None, full)
    assert np.array_equal(mine, theirs)
    np.testing.assert_array_equal(probas, full.probas_.to_numpy())
    wpos = {v: i for i, v in enumerate(inc.worker_ids_.tolist())}
    skills = inc.skills_[[wpos[w] for w in full.skills_.index]]
    np.testing.assert_allclose(skills, full.skills_.to_numpy(), atol=1e-12)


def test_wawa_partial_fit_then_sweep_equals_a_full_fit():
    batches = _frames(_crowd(seed=3), 6)
    inc = _run("wawa", batches, tie_break="first").sweep()
    full = make_strategy("wawa", tie_break="first").fit(pd.concat(batches))
    mine, theirs, probas = _aligned(inc, None, full)
    assert np.array_equal(mine, theirs)
    np.testing.assert_allclose(probas, full.probas_.to_numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["ds", "onecoin"])
def test_em_partial_fit_agrees_with_a_full_fit(name):
    batches = _frames(_crowd(1500, 3, 40, seed=5), 10)
    inc = _run(name, batches)
    full = make_strategy(name).fit(pd.concat(batches))
    mine, theirs, _ = _aligned(inc, None, full)
    assert (mine == theirs).mean() >= 0.97
    inc.sweep(50)
    mine, theirs, _ = _aligned(inc, None, full)
    assert (mine == theirs).mean() >= 0.99


@pytest.mark.parametrize("name", ["mv", "wawa", "ds", "onecoin"])
def test_vocabularies_grow_with_new_tasks_workers_and_classes(name):
    first = pd.DataFrame({"task": ["a", "a", "b", "b"], "worker": [1, 2, 1, 2],
                          "label": ["x", "x", "y", "y"]})
    second = pd.DataFrame({"task": ["c", "c", "a"], "worker": [3, 1, 3],
                           "label": ["z", "z", "x"]})
    est = make_strategy(name).partial_fit(first)
    assert est.probas_.shape == (2, 2)
    est.partial_fit(second)
    assert est.task_ids_.tolist() == ["a", "b", "c"]
    assert est.worker_ids_.tolist() == [1, 2, 3]
    assert est.classes_.tolist() == ["x", "y", "z"]
    assert est.probas_.shape == (3, 3)
    np.testing.assert_allclose(est.probas_.sum(axis=1), 1.0)
    assert est.classes_[est.labels_].tolist() == ["x", "y", "z"]
    assert est.n_answers_ == 7 and est.n_batches_ == 2
    if name in ("ds", "onecoin"):
        assert est.confusions_.shape == (3, 3, 3)


def test_partial_fit_continues_a_full_fit():
    batches = _frames(_crowd(800, 3, 30, seed=2), 4)
    est = make_strategy("ds").fit(pd.concat(batches[:3]))
    est.partial_fit(batches[3])
    assert est.n_answers_ == sum(len(b) for b in batches)
    full = make_strategy("ds").fit(pd.concat(batches))
    mine, theirs, _ = _aligned(est, None, full)
    assert (mine == theirs).mean() >= 0.96


@pytest.mark.parametrize("name", ["mv", "wawa", "ds", "onecoin"])
def test_state_round_trip_gives_the_same_updates(name, tmp_path):
    batches = _frames(_crowd(400, 3, 20, seed=4), 4)
    kept = _run(name, batches[:2])
    save_state(kept._inc, tmp_path / "st")
    from crowdlearn.aggregate.incremental import estimator_from_state

    loaded = estimator_from_state(load_state(tmp_path / "st"))
    np.testing.assert_array_equal(loaded.probas_, kept.probas_)
    for b in batches[2:]:
        kept.partial_fit(b)
        loaded.partial_fit(b)
    np.testing.assert_array_equal(loaded.probas_, kept.probas_)
    np.testing.assert_array_equal(loaded.labels_, kept.labels_)
    assert loaded.task_ids_.tolist() == kept.task_ids_.tolist()


def _saved(tmp_path: Path) -> Path:
    est = _run("ds", _frames(_crowd(100, 3, 10), 2))
    return save_state(est._inc, tmp_path / "st")


def test_corrupted_arrays_are_refused(tmp_path):
    st = _saved(tmp_path)
    with open(st / "arrays.npz", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(DataError, match="checksum"):
        load_state(st)


@pytest.mark.parametrize("change, match", [
    ({"version": 99}, "version 99"), ({"format": "other"}, "not a crowdlearn"),
    ({"strategy": "glad"}, "unknown strategy"), ({"n_tasks": 7}, "shape"),
])
def test_edited_state_json_is_refused(tmp_path, change, match):
    st = _saved(tmp_path)
    meta = json.loads((st / "state.json").read_text())
    meta.update(change)
    (st / "state.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=match):
        load_state(st)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crowdlearn", *args], cwd=cwd,
                          capture_output=True, text=True)


def test_cli_update_creates_then_updates_the_state(tmp_path):
    batches = _frames(_crowd(200, 3, 12), 2)
    for i, b in enumerate(batches):
        b.to_csv(tmp_path / f"b{i}.csv", index=False)
    r = _cli("aggregate", "b0.csv", "--update", "st", "-s", "onecoin", "-o", "out",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "st" / "state.json").read_text())["n_batches"] == 1
    r = _cli("aggregate", "b1.csv", "--update", "st", "-o", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    labels = pd.read_csv(tmp_path / "out" / "labels_b1_onecoin.csv")
    assert len(labels) == 200
    summary = json.loads((tmp_path / "out" / "summary_b1_onecoin.json").read_text())
    assert summary["n_answers"] == sum(len(b) for b in batches)


def test_cli_update_refuses_the_same_batch_twice(tmp_path):
    # re-running a command after it succeeded would silently count every answer twice
    _frames(_crowd(100, 3, 8), 1)[0].to_csv(tmp_path / "b.csv", index=False)
    r = _cli("aggregate", "b.csv", "--update", "st", "-o", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = (tmp_path / "st" / "arrays.npz").read_bytes()
    r = _cli("aggregate", "b.csv", "--update", "st", "-o", "out", cwd=tmp_path)
    assert r.returncode == 2 and "already added (batch 1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / "st" / "arrays.npz").read_bytes() == before
    assert len(json.loads((tmp_path / "st" / "state.json").read_text())["batch_digests"]) == 1


def test_cli_refuses_a_corrupted_state_in_one_line(tmp_path):
    st = _saved(tmp_path)
    (st / "state.json").write_text("{not json")
    _frames(_crowd(50, 3, 5), 1)[0].to_csv(tmp_path / "b.csv", index=False)
    r = _cli("aggregate", "b.csv", "--update", "st", cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "state.json" in r.stderr


def test_periodic_sweep_runs_every_nth_batch(monkeypatch):
    from crowdlearn.aggregate.incremental._states import DSState

    calls = []
    original = DSState.sweep
    monkeypatch.setattr(DSState, "sweep", lambda self, n: calls.append(self.n_batches)
                        or original(self, n))
    est = make_strategy("ds")
    for b in _frames(_crowd(300, 3, 10), 6):
        est.partial_fit(b, sweep_every=3)
    assert calls == [3, 6]


def test_cli_update_refuses_gold_and_device(tmp_path):
    _frames(_crowd(50, 3, 5), 1)[0].to_csv(tmp_path / "b.csv", index=False)
    r = _cli("aggregate", "b.csv", "--update", "st", "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 2 and "--device cannot be combined" in r.stderr
    assert not (tmp_path / "st").exists()


def test_boolean_and_integer_ids_survive_a_round_trip(tmp_path):
    from crowdlearn.aggregate.incremental import estimator_from_state

    frame = pd.DataFrame({"task": [1, 1, 2, 2], "worker": ["a", "b", "a", "b"],
                          "label": [True, True, False, True]})
    est = make_strategy("mv").partial_fit(frame)
    save_state(est._inc, tmp_path / "st")
    back = estimator_from_state(load_state(tmp_path / "st")).partial_fit(frame)
    assert back.classes_.tolist() == [False, True]
    assert back.task_ids_.tolist() == [1, 2]
