"""``crowdlearn demo``: a built-in, self-contained example that runs in a few seconds.

The demo is a sequence of steps; each step takes the shared state (a dict holding at least
the seed and, after the first step, the simulated crowd), adds to it and returns a small table
that is printed under a numbered title: the simulated crowd, aggregation with majority vote and
Dawid-Skene, then deep learning from crowds (a classifier trained on Gaussian item features
with the crowd layer and GeoCrowdNet(W)). Later features append steps to :data:`STEPS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import add_command

EXAMPLE = """\
crowdlearn demo
crowdlearn demo --seed 7"""

#: the demo crowd: 20 workers, a mix of good, noisy, spammer and adversarial annotators
DEMO_WORKERS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("one-coin", 8, {"min_skill": 0.75, "max_skill": 0.95}),
    ("diagonal", 6, {"strength": 1.5}),
    ("spammer", 4, {}),
    ("adversarial", 2, {}),
)
DEMO_SIZE = {"n_tasks": 1000, "n_classes": 4, "answers_per_task": 5}
#: the deep step: Gaussian item features and a small MLP, trained on the CPU
DEMO_FEATURES = {"dim": 8, "separation": 4.0}
DEMO_DEEP = {
    "strategies": (("crowd layer", "crowdlayer"), ("GeoCrowdNet (W)", "geocrowdnet-w")),
    "params": {"backbone_params": {"hidden": (32,), "dropout": 0.0}, "n_epochs": 8,
               "batch_size": 128, "lr": 2e-2, "head_lr": 0.2, "val_fraction": 0.1,
               "device": "cpu"},
}


@dataclass(frozen=True)
class StepResult:
    """What a demo step prints: a title, a table and an optional closing note."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str | None = None


Step = Callable[[dict[str, Any]], StepResult]


def step_simulate(state: dict[str, Any]) -> StepResult:
    """Simulate the demo crowd (Dawid & Skene's annotator model, :func:`crowdlearn.simulate`)."""
    import numpy as np

    from ..simulate import simulate

    crowd = simulate(
        DEMO_SIZE["n_tasks"], DEMO_SIZE["n_classes"], workers=list(DEMO_WORKERS),
        answers_per_task=DEMO_SIZE["answers_per_task"], seed=state["seed"], name="demo",
    )
    state["crowd"] = crowd
    answers = crowd.answers
    acc = crowd.accuracies
    per_worker = answers.answers_per_worker()
    rows = []
    for model in crowd.model_counts():
        sel = crowd.worker_models == model
        rows.append([model, int(sel.sum()), int(per_worker[sel].sum()),
                     float(np.mean(acc[sel]))])
    per_task = answers.answers_per_task()
    note = (f"{answers.n_tasks} tasks, {answers.n_workers} workers, {answers.n_classes} classes, "
            f"{answers.n_answers} answers, {per_task.mean():.1f} answers per task "
            f"(min {per_task.min()}, max {per_task.max()})")
    return StepResult("Simulated crowd", ["annotator model", "workers", "answers",
                                          "mean accuracy"], rows, note)


def step_aggregate(state: dict[str, Any]) -> StepResult:
    """Majority vote and Dawid-Skene (EM over full confusion matrices) against the truth."""
    from ..aggregate import make_strategy

    answers = state["crowd"].answers
    truth = answers.truth
    rows = []
    for title, name in (("majority vote", "mv"), ("Dawid-Skene", "ds")):
        params = {"random_state": state["seed"]} if name == "mv" else {}
        est = make_strategy(name, **params).fit(answers)
        correct = int((est.labels_ == truth).sum())
        acc = correct / answers.n_tasks
        state.setdefault("accuracy", {})[title] = acc
        state.setdefault("seconds", {})[title] = est.fit_seconds_
        rows.append([title, correct, answers.n_tasks, acc, est.n_iter_, est.fit_seconds_])
    return StepResult("Aggregation against the truth",
                      ["method", "correct", "tasks", "accuracy", "iterations", "seconds"], rows,
                      "Dawid-Skene learns each worker's confusion matrix, so it discounts the "
                      "spammers and reads the adversarial workers' answers backwards.")


def step_deep(state: dict[str, Any]) -> StepResult:
    """Train a classifier from the crowd: crowd layer and GeoCrowdNet(W) vs MV and DS labels.

    Each task gets a Gaussian feature vector around its true class's mean
    (:func:`crowdlearn.simulate.gaussian_features`, seeded with the demo seed); a small MLP is
    trained on the crowd's answers only (never the truth), on one CPU thread.
    """
    import time

    import numpy as np
    import torch
    import torch._dynamo  # noqa: F401  (torch.optim loads it on the first step: not timed)

    from ..deep import CrowdClassifier
    from ..simulate import gaussian_features

    crowd = state["crowd"]
    answers = crowd.answers
    truth = crowd.true_labels
    X = gaussian_features(truth, answers.n_classes, DEMO_FEATURES["dim"],
                          separation=DEMO_FEATURES["separation"], seed=state["seed"])
    rows: list[list[Any]] = []
    for title in ("majority vote", "Dawid-Skene"):
        if title in state.get("accuracy", {}):
            rows.append([title, "labels", state["accuracy"][title],
                         state.get("seconds", {}).get(title)])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small model: one thread is fastest (and fair on a busy machine)
    try:
        for title, strategy in DEMO_DEEP["strategies"]:
            start = time.perf_counter()
            clf = CrowdClassifier("mlp", strategy=strategy, seed=state["seed"],
                                  **DEMO_DEEP["params"]).fit(X, answers)
            acc = float(np.mean(clf.labels_ == truth))
            state.setdefault("accuracy", {})[title] = acc
            rows.append([title, "classifier", acc, time.perf_counter() - start])
    finally:
        torch.set_num_threads(threads)
    return StepResult(
        "Deep learning from crowds (classifier trained on the answers)",
        ["method", "predictions", "accuracy", "seconds"], rows,
        f"Accuracy against the truth of the aggregated labels (MV, DS) and of the classifier's "
        f"predictions for the same {answers.n_tasks:,} tasks (crowd layer, GeoCrowdNet): an MLP "
        f"on {DEMO_FEATURES['dim']} Gaussian features per task, "
        f"{DEMO_DEEP['params']['n_epochs']} epochs, trained on the answers only. The features "
        f"separate the classes well (about 99% is possible from them alone), so learning from "
        f"items and answers together beats any aggregate of the answers. Your data: "
        f"crowdlearn fit.")


STEPS: list[Step] = [step_simulate, step_aggregate, step_deep]
"""The demo's steps, run in order."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    p = add_command(
        sub, "demo", "run the built-in example (simulated crowd, aggregation, deep learning)",
        EXAMPLE,
        description="Simulate a small crowd (1,000 tasks, 4 classes, 20 workers: good, noisy, "
        "spammer and adversarial annotators, 5 answers per task), aggregate it with majority "
        "vote and Dawid-Skene, then train a small classifier from the answers (crowd layer and "
        "GeoCrowdNet(W) on Gaussian item features), and compare everything with the known "
        "truth. Takes a few seconds on a CPU.",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulation")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every step of :data:`STEPS` and print its table."""
    from ._common import format_table

    state: dict[str, Any] = {"seed": args.seed}
    for i, step in enumerate(STEPS, 1):
        res = step(state)
        print(f"[{i}] {res.title}")
        print(format_table(res.rows, res.headers))
        if res.note:
            print(res.note)
        print()
    return 0
