"""The Answers data model: construction, canonical order, views, selection, strictness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Answers, DataError
from crowdlearn.labels import line_locator


@pytest.fixture
def small() -> Answers:
    return Answers.from_arrays(
        ["t2", "t1", "t1", "t3", "t2"],
        ["w1", "w2", "w1", "w3", "w3"],
        ["dog", "cat", "cat", "bird", "dog"],
        truth={"t1": "cat", "t3": "dog"},
        name="pets",
    )


def test_sizes_ids_and_classes(small: Answers) -> None:
    assert (small.n_tasks, small.n_workers, small.n_classes, len(small)) == (3, 3, 3, 5)
    assert small.task_ids.tolist() == ["t1", "t2", "t3"]
    assert small.worker_ids.tolist() == ["w1", "w2", "w3"]
    assert small.classes.tolist() == ["bird", "cat", "dog"]
    assert small.truth.tolist() == [1, -1, 2]
    assert small.name == "pets"


def test_answers_are_sorted_by_task_then_worker(small: Answers) -> None:
    key = small.task.astype(np.int64) * small.n_workers + small.worker
    assert np.all(np.diff(key) > 0)
    frame = small.to_frame()
    assert list(frame.itertuples(index=False, name=None)) == [
        ("t1", "w1", "cat"), ("t1", "w2", "cat"), ("t2", "w1", "dog"), ("t2", "w3", "dog"),
        ("t3", "w3", "bird"),
    ]


def test_arrays_are_immutable(small: Answers) -> None:
    with pytest.raises(ValueError):
        small.label[0] = 1
    with pytest.raises(ValueError):
        small.task_ids[0] = "x"


def test_integer_ids_stay_integers_and_sort_numerically() -> None:
    a = Answers.from_arrays([10, 2, 2], [5, 5, 7], [1, 0, 1])
    assert a.task_ids.tolist() == [2, 10]
    assert a.task_ids.dtype.kind == "i"
    assert a.classes.tolist() == [0, 1]


def test_vote_counts_and_answer_counts(small: Answers) -> None:
    counts = small.vote_counts().toarray()
    assert counts.tolist() == [[0, 2, 0], [0, 0, 2], [1, 0, 0]]
    assert small.answers_per_task().tolist() == [2, 2, 1]
    assert small.answers_per_worker().tolist() == [2, 1, 2]
    assert small.worker_vote_counts().toarray().tolist() == [[0, 1, 1], [0, 1, 0], [1, 0, 1]]


def test_incidence_encodes_worker_label_columns(small: Answers) -> None:
    inc = small.incidence.toarray()
    assert inc.shape == (3, 9)
    for t, w, lab in zip(small.task, small.worker, small.label, strict=True):
        assert inc[t, w * 3 + lab] == 1
    assert inc.sum() == len(small)


def test_dense_matrix_only_on_request(small: Answers) -> None:
    m = small.dense_matrix()
    assert m.shape == (3, 3)
    assert m.tolist() == [[1, 1, -1], [2, -1, 2], [-1, -1, 0]]
    with pytest.raises(MemoryError):
        small.dense_matrix(max_cells=4)


def test_select_tasks_renumbers_and_keeps_truth(small: Answers) -> None:
    sub = small.select_tasks(np.array([False, True, True]))
    assert sub.task_ids.tolist() == ["t2", "t3"]
    assert sub.truth.tolist() == [-1, 2]
    assert sub.worker_ids.tolist() == ["w1", "w3"]  # w2 had no answer left
    assert len(sub) == 3
    assert sub.classes.tolist() == small.classes.tolist()


def test_select_workers_keeps_tasks(small: Answers) -> None:
    sub = small.select_workers([2])
    assert sub.worker_ids.tolist() == ["w3"]
    assert sub.n_tasks == 3 and len(sub) == 2
    assert sub.answers_per_task().tolist() == [0, 1, 1]
    dropped = small.select_workers([2], keep_all_tasks=False)
    assert dropped.task_ids.tolist() == ["t2", "t3"]


def test_select_answers_keeps_index_spaces(small: Answers) -> None:
    sub = small.select_answers([0, 4])
    assert (sub.n_tasks, sub.n_workers, sub.n_classes) == (3, 3, 3)
    assert len(sub) == 2


def test_equality_ignores_input_row_order() -> None:
    a = Answers.from_arrays([1, 2, 1], ["a", "b", "b"], [0, 1, 1])
    b = Answers.from_arrays([2, 1, 1], ["b", "b", "a"], [1, 1, 0])
    assert a == b
    c = Answers.from_arrays([2, 1, 1], ["b", "b", "a"], [1, 0, 0])
    assert a != c


def test_duplicate_pairs_error_names_lines() -> None:
    with pytest.raises(DataError, match=r"x.csv: .*task 1 / worker 'a' at line 2 and line 4"):
        Answers.from_arrays([1, 2, 1], ["a", "b", "a"], [0, 1, 1], source="x.csv",
                            locate=line_locator(2))


@pytest.mark.parametrize(("policy", "expected"), [("first", [0, 1]), ("last", [1, 1])])
def test_duplicate_policies_keep_first_or_last(policy: str, expected: list[int]) -> None:
    a = Answers.from_arrays([1, 2, 1], ["a", "b", "a"], [0, 1, 1], duplicates=policy)
    assert a.label.tolist() == expected


def test_duplicate_policy_all_keeps_every_answer() -> None:
    a = Answers.from_arrays([1, 2, 1], ["a", "b", "a"], [0, 1, 1], duplicates="all")
    assert len(a) == 3
    assert a.has_duplicate_pairs()
    with pytest.raises(DataError):
        a.dense_matrix()


def test_declared_classes_are_enforced() -> None:
    with pytest.raises(DataError, match="label 'fish' is not one of the declared classes"):
        Answers.from_arrays([0, 1], [0, 0], ["cat", "fish"], classes=["cat", "dog"],
                            source="a.csv", locate=line_locator(2))
    with pytest.raises(DataError, match=r"line 3: field 'label': label 3 is outside"):
        Answers.from_arrays([0, 1], [0, 0], [0, 3], n_classes=3, source="a.csv",
                            locate=line_locator(2))


def test_unused_declared_classes_are_kept() -> None:
    a = Answers.from_arrays([0, 1], [0, 0], [0, 0], n_classes=4)
    assert a.n_classes == 4
    assert a.vote_counts().shape == (2, 4)


def test_non_integer_and_negative_labels_are_errors() -> None:
    with pytest.raises(DataError, match="non-integer value 1.5"):
        Answers.from_arrays([0, 1], [0, 0], [1.0, 1.5])
    with pytest.raises(DataError, match="negative label -2"):
        Answers.from_arrays([0, 1], [0, 0], [1, -2])
    with pytest.raises(DataError, match="non-integer label 'x' where integers are required"):
        Answers.from_arrays([0, 1], [0, 0], [1, "x"], require_integer_labels=True)


def test_missing_values_are_errors() -> None:
    with pytest.raises(DataError, match=r"line 3: field 'worker': missing value"):
        Answers.from_arrays([0, 1], ["a", None], [0, 1], source="f.csv",
                            locate=line_locator(2))


def test_truth_for_unknown_task_is_an_error(small: Answers) -> None:
    with pytest.raises(DataError, match=r"truth.csv: line 3: field 'task': unknown task 't9'"):
        small.with_truth_table(["t1", "t9"], ["cat", "dog"], source="truth.csv",
                               locate=line_locator(2))


def test_truth_matches_integer_ids_given_as_text() -> None:
    a = Answers.from_arrays([0, 1], [0, 0], [0, 1])
    b = a.with_truth_table(["1", "0"], [1, 0])
    assert b.truth.tolist() == [0, 1]


def test_contradicting_truth_rows_are_an_error(small: Answers) -> None:
    with pytest.raises(DataError, match="two different true labels"):
        small.with_truth_table(["t1", "t1"], ["cat", "dog"])


def test_from_frame_accepts_item_column_and_reports_missing_columns() -> None:
    frame = pd.DataFrame({"item": [1, 1], "worker": [1, 2], "label": [0, 1]})
    assert Answers.from_frame(frame).n_tasks == 1
    with pytest.raises(DataError, match="missing column"):
        Answers.from_frame(frame.drop(columns="label"))


def test_majority_labels_break_ties_with_the_seed() -> None:
    # 200 tasks, each a 1-1 tie between classes 0 and 1
    n = 200
    a = Answers.from_arrays(np.repeat(np.arange(n), 2), np.tile([0, 1], n), np.tile([0, 1], n))
    first = a.majority_labels(seed=1)
    assert set(first.tolist()) == {0, 1}  # not always the first label
    assert np.array_equal(first, a.majority_labels(seed=1))


def test_summary_reports_distributions_and_mv_accuracy(small: Answers) -> None:
    s = small.summary()
    assert s["n_answers"] == 5 and s["n_tasks_with_truth"] == 2
    assert s["answers_per_task"]["max"] == 2
    assert s["majority_vote_accuracy"] == 0.5  # t1 right, t3 (bird vs truth dog) wrong


def test_memory_is_linear_in_answers() -> None:
    n = 100_000
    rng = np.random.default_rng(0)
    a = Answers(rng.integers(0, 20_000, n), rng.integers(0, 500, n), rng.integers(0, 5, n),
                duplicates="first")
    assert a.task.dtype == np.int32
    assert a.task.nbytes + a.worker.nbytes + a.label.nbytes <= 12 * n
