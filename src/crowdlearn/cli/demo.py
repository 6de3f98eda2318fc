"""``crowdlearn demo``: a built-in, self-contained example that runs in about a second.

The demo is a sequence of steps; each step takes the shared state (a dict holding at least
the seed and, after the first step, the simulated crowd), adds to it and returns a small table
that is printed under a numbered title. Later features append steps (aggregation with
Dawid-Skene, deep learning from crowds) to :data:`STEPS`.
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
        rows.append([title, correct, answers.n_tasks, acc, est.n_iter_, est.fit_seconds_])
    return StepResult("Aggregation against the truth",
                      ["method", "correct", "tasks", "accuracy", "iterations", "seconds"], rows,
                      "Dawid-Skene learns each worker's confusion matrix, so it discounts the "
                      "spammers and reads the adversarial workers' answers backwards.")


STEPS: list[Step] = [step_simulate, step_aggregate]
"""The demo's steps, run in order."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    p = add_command(
        sub, "demo", "run the built-in example (simulated crowd, majority vote vs Dawid-Skene)",
        EXAMPLE,
        description="Simulate a small crowd (1,000 tasks, 4 classes, 20 workers: good, noisy, "
        "spammer and adversarial annotators, 5 answers per task), then aggregate it and compare "
        "with the known truth. Takes about a second.",
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
