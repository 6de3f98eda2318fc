"""peerannot's strategies and names: TwoThird, IWMV, Wawa and PlantNet against peerannot.

Two sources of expected values:

* peerannot's own toy data set (``datasets/toy-data`` of github.com/peerannot/peerannot, BSD
  3-clause, copied with its licence in ``tests/fixtures/peerannot_toy``) and the values its
  ``tests/test_models.py`` asserts;
* ``tests/fixtures/peerannot_reference.json``: peerannot 0.0.1.post43's ``TwoThird``, ``IWMV``,
  ``Wawa`` and ``PlantNet`` run on random crowds by ``tests/fixtures/make_peerannot_reference.py``
  (binary crowds with an odd number of answers per task, so that peerannot's random tie-breaking
  never acts).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import (
    IWMV,
    PlantNet,
    TwoThird,
    Wawa,
    available,
    decided_labels,
    get_strategy_class,
    make_strategy,
)
from crowdlearn.errors import CrowdlearnError
from crowdlearn.io import read

FIXTURES = Path(__file__).parent / "fixtures"
TOY = FIXTURES / "peerannot_toy"
REFERENCE = json.loads((FIXTURES / "peerannot_reference.json").read_text())

PEERANNOT_NAMES = ["majority_voting", "naive_soft", "dawid_skene", "dawid_skene_clust", "glad",
                   "wds", "plantnet", "twothird", "iwmv", "wawa"]
OLD_NAMES = ["MV", "NaiveSoft", "DS", "GLAD", "WDS", "DSWC[L=2]"]


def _answers(raw: dict, n_classes: int) -> Answers:
    task, worker, label = [], [], []
    for t, row in raw.items():
        for w, lab in row.items():
            task.append(int(t))
            worker.append(int(w))
            label.append(int(lab))
    return Answers.from_arrays(task, worker, label, classes=np.arange(n_classes))


@pytest.fixture(scope="module")
def toy() -> Answers:
    return read(TOY)


# ---------------------------------------------------------------------------- names
@pytest.mark.parametrize("name", PEERANNOT_NAMES + OLD_NAMES)
def test_every_peerannot_name_resolves_in_any_case(name: str, toy: Answers) -> None:
    for spelling in (name, name.upper(), name.lower()):
        est = make_strategy(spelling)
        assert type(est) is type(make_strategy(name))
    est = make_strategy(name).fit(toy)
    assert np.asarray(est.probas_).shape == (3, 2)


def test_aliases_are_not_listed_as_strategies() -> None:
    names = available()
    for alias in ("majority_voting", "naive_soft", "dawid_skene", "dawid_skene_clust"):
        assert alias not in names
    for new in ("twothird", "iwmv", "plantnet"):
        assert new in names
    assert get_strategy_class("dawid_skene_clust").name == "dswc"


def test_peerannot_bracket_parameters() -> None:
    assert make_strategy("DSWC[L=3]").n_clusters == 3
    assert make_strategy("dawid_skene_clust[L=4]").n_clusters == 4
    ds = make_strategy("dawid_skene[maxiter=7,epsilon=1e-3]")
    assert (ds.n_iter, ds.tol) == (7, 1e-3)
    assert make_strategy("iwmv[nb_iter=3]").n_iter == 3
    p = make_strategy("plantnet[alpha=0.6,beta=0.1,AI='worker',AIweight=2]")
    assert (p.alpha, p.beta, p.ai, p.ai_weight) == (0.6, 0.1, "worker", 2)
    with pytest.raises(CrowdlearnError, match="given twice"):
        make_strategy("ds[maxiter=3,n_iter=4]")
    with pytest.raises(CrowdlearnError, match="no parameter"):
        make_strategy("twothird[L=2]")


# ---------------------------------------------------------------------------- toy data
def test_toy_data_as_peerannot_tests_expect(toy: Answers) -> None:
    """peerannot tests/test_models.py: labels [1, 0, 1] for MV, DS, GLAD, Wawa, IWMV, TwoThird;
    NaiveSoft's probabilities; PlantNet [1, -1, -1] (maxiter=2)."""
    for name in ("majority_voting", "dawid_skene", "glad", "wawa", "iwmv", "twothird"):
        est = make_strategy(name).fit(toy)
        assert decided_labels(est).tolist() == [1, 0, 1], name
    ns = make_strategy("naive_soft").fit(toy)
    assert np.allclose(ns.probas_, [[0.25, 0.75], [2 / 3, 1 / 3], [0, 1]])
    # peerannot's DS posterior on the toy data (run, not in its tests: they only compare sums)
    assert np.allclose(make_strategy("dawid_skene").fit(toy).probas_,
                       [[0, 1], [1, 0], [0, 1]], atol=1e-6)
    for maxiter in (1, 2, 100):
        pn = make_strategy(f"plantnet[maxiter={maxiter}]").fit(toy)
        assert decided_labels(pn).tolist() == [1, -1, -1]
        assert np.allclose(pn.skills_, np.log(2.1))
        assert np.allclose(pn.conf_, [3 * np.log(2.1), 2 * np.log(2.1), 2 * np.log(2.1)])
    # peerannot's Wawa / IWMV worker_score on the toy data (its test only checks the sum, 3)
    for est in (IWMV(n_iter=1).fit(toy), IWMV().fit(toy), Wawa().fit(toy)):
        assert np.allclose(est.skills_, [0.5, 0.5, 1, 1])


# ---------------------------------------------------------------------------- reference runs
@pytest.mark.parametrize("case", range(len(REFERENCE["cases"])))
def test_twothird_iwmv_wawa_match_peerannot(case: int) -> None:
    ref = REFERENCE["cases"][case]
    answers = _answers(REFERENCE["crowds"][ref["crowd"]]["answers"], ref["n_classes"])
    assert decided_labels(TwoThird().fit(answers)).tolist() == ref["twothird"]
    for n in (1, 3, 10):
        est = IWMV(n_iter=n).fit(answers)
        assert est.labels_.tolist() == ref[f"iwmv_{n}"]["labels"]
        assert np.allclose(est.skills_, ref[f"iwmv_{n}"]["worker_score"])
    # peerannot's wawa is IWMV with one step: crowdlearn's Wawa has its labels
    assert Wawa().fit(answers).labels_.tolist() == ref["wawa"]["labels"]
    assert np.allclose(IWMV(n_iter=1).fit(answers).skills_, ref["wawa"]["worker_score"])


@pytest.mark.parametrize("case", range(len(REFERENCE["plantnet"])))
def test_plantnet_matches_peerannot_with_frozen_labels(case: int) -> None:
    ref = REFERENCE["plantnet"][case]
    crowd = REFERENCE["crowds"][ref["crowd"]]
    answers = _answers(crowd["answers"], ref["n_classes"])
    est = PlantNet(authors=crowd["authors"], n_iter=ref["maxiter"], freeze_labels=True,
                   **ref["params"]).fit(answers)
    assert decided_labels(est).tolist() == ref["labels"]
    assert "".join(map(str, est.valid_.astype(int))) == ref["valid"]
    assert np.allclose(est.skills_, ref["weights"])
    assert np.allclose(est.n_identified_, ref["n_j"])
    if "conf" in ref:
        assert np.allclose(est.conf_, ref["conf"])


# ---------------------------------------------------------------------------- definitions
def test_twothird_needs_two_answers_and_two_thirds() -> None:
    # task 0: 2 of 3 (valid); 1: 1 answer; 2: 2 of 4 (no); 3: 3 of 4 (valid); 4: 1 of 2 (no)
    a = Answers.from_arrays(
        [0, 0, 0, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4],
        [0, 1, 2, 0, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1],
        [1, 1, 0, 2, 0, 0, 1, 2, 2, 2, 2, 0, 0, 1],
        classes=[0, 1, 2])
    est = TwoThird().fit(a)
    assert est.valid_.tolist() == [True, False, False, True, False]
    assert decided_labels(est).tolist() == [1, -1, -1, 2, -1]
    assert decided_labels(TwoThird(output_unvalidated=True).fit(a))[3] == 2


def test_iwmv_li_yu_weights_differ_from_accuracy() -> None:
    # worker 0 is always right, workers 1..2 agree with each other and are wrong on tasks
    # 0..3: with K=3 the Li-Yu weight K*a-1 of a worker of agreement 1/3 is 0
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 30)
    task = np.repeat(np.arange(30), 3)
    worker = np.tile([0, 1, 2], 30)
    label = np.repeat(truth, 3).copy()
    label[1::3][:20] = (truth[:20] + 1) % 3
    label[2::3][10:] = (truth[10:] + 2) % 3
    a = Answers.from_arrays(task, worker, label, classes=[0, 1, 2])
    acc = IWMV().fit(a)
    li = IWMV(weights="li-yu").fit(a)
    assert np.allclose(li.weights_, 3 * li.skills_ - 1)
    assert np.allclose(acc.weights_, acc.skills_)
    with pytest.raises(CrowdlearnError, match="weights"):
        IWMV(weights="bad").fit(a)


def test_plantnet_authors_and_ai_worker() -> None:
    # worker 0 authored and answered every task; two classes, three tasks per class
    task = np.repeat(np.arange(6), 3)
    worker = np.tile([0, 1, 2], 6)
    label = np.repeat([0, 0, 0, 1, 1, 1], 3)
    a = Answers.from_arrays(task, worker, label, classes=[0, 1])
    est = PlantNet(authors=[0] * 6).fit(a)
    assert est.n_identified_.tolist() == [2, 0, 0]
    assert est.skills_[0] == pytest.approx(2 ** 0.5 - 2 ** 0.2 + np.log(2.1))
    assert est.valid_.all()
    # an "AI" worker is dropped by default, a fixed-weight vote with ai="fixed"
    b = Answers.from_arrays([0, 0, 0], ["u", "v", "AI"], [0, 1, 1], classes=[0, 1])
    assert PlantNet(ai="fixed", ai_weight=5.0).fit(b).labels_.tolist() == [1]
    assert PlantNet(ai="ignored").fit(b).labels_.tolist() == [0]  # tie: first class
    with pytest.raises(CrowdlearnError, match="ai must be"):
        PlantNet(ai="confident").fit(b)


def test_plantnet_authors_file(tmp_path: Path, toy: Answers) -> None:
    path = tmp_path / "authors.txt"
    path.write_text("3\n-1\n1\n")
    est = PlantNet(authors=str(path)).fit(toy)
    assert est.n_identified_.shape == (4,)
    path.write_text("3\n")
    with pytest.raises(CrowdlearnError, match="authors"):
        PlantNet(authors=str(path)).fit(toy)
