"""``crowdlearn aggregate NEW --update STATE_DIR``: add answers to a saved incremental fit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CrowdlearnError

#: strategies with ``partial_fit`` (crowdlearn.aggregate.incremental)
UPDATABLE = ("mv", "wawa", "ds", "onecoin")


def batch_digest(answers: Any) -> str:
    """SHA-256 of a batch's answers (task id, worker id, label name of each, in order)."""
    import hashlib

    h = hashlib.sha256()
    for ids, idx in ((answers.task_ids, answers.task), (answers.worker_ids, answers.worker),
                     (answers.classes, answers.label)):
        names = np.asarray(ids).astype(str)[np.asarray(idx)]
        h.update("\x1f".join(names.tolist()).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def run_update(args: argparse.Namespace, answers: Any, out_dir: Path, spec: str | None,
               params: dict[str, Any]) -> int:
    """Load the state (or start one), ``partial_fit`` the new answers, write the results and
    the new state (each atomically); ``spec`` is ``-s`` when given, else ``None``."""
    from ..aggregate import get_strategy_class, make_strategy, parse_strategy_spec
    from ..aggregate.incremental import estimator_from_state, load_state, save_state
    from ..aggregate.results import write_results
    from ..answers import Answers
    from ..params import PARTIAL_FIT_SPECS, check_params

    refresh = 1.0 if args.update_refresh is None else args.update_refresh
    check_params("aggregate --update", {"--update-iter": PARTIAL_FIT_SPECS["n_iter"],
                                        "--update-refresh": PARTIAL_FIT_SPECS["refresh"]},
                 {"--update-iter": args.update_iter, "--update-refresh": refresh})
    state_dir = Path(args.update)
    for option, value in (("--gold", args.gold), ("--device", args.device)):
        if value is not None:
            raise CrowdlearnError(f"{option} cannot be combined with --update (incremental "
                                  f"updates run on numpy, without gold labels)")
    name = None
    if spec is not None:
        base, bracket = parse_strategy_spec(spec)
        name = get_strategy_class(base).name
        params = {**bracket, **params}
    if (state_dir / "state.json").exists() or (state_dir.is_dir() and any(state_dir.iterdir())):
        state = load_state(state_dir)
        if name is not None and name != state.kind:
            raise CrowdlearnError(f"--update {state_dir}: the state holds strategy "
                                  f"{state.kind!r}, not {name!r}")
        if params:
            raise CrowdlearnError(f"--update {state_dir}: parameters are fixed when the state "
                                  f"is created (got {', '.join(sorted(params))})")
        est = estimator_from_state(state)
    else:
        name = name or "ds"
        if name not in UPDATABLE:
            raise CrowdlearnError(f"--update needs a strategy with partial_fit "
                                  f"({', '.join(UPDATABLE)}), not {name!r}")
        est = make_strategy(name, **params)
    digest = batch_digest(answers)
    done = getattr(getattr(est, "_inc", None), "batch_digests", [])
    if digest in done:
        raise CrowdlearnError(
            f"--update {state_dir}: these answers were already added (batch "
            f"{done.index(digest) + 1} of the state has the same tasks, workers and labels); "
            "adding them again would count every answer twice")
    est.partial_fit(answers, n_iter=args.update_iter, refresh=refresh, sweep=args.sweep)
    state = est._inc
    state.batch_digests.append(digest)
    # the results cover every answer so far: an Answers with the state's vocabularies (its
    # answers live in the state), truth from this batch where its tasks have some
    truth = None
    if answers.has_truth:
        truth = np.full(len(state.tasks), -1, dtype=np.int64)
        rows = np.array([state.tasks.index[v] for v in answers.task_ids.tolist()
                         if v in state.tasks.index])
        cls = np.array([state.classes.index[v] for v in answers.classes.tolist()])
        keep = answers.truth >= 0
        truth[rows[keep]] = cls[answers.truth[keep]]
    est.answers_ = Answers(np.zeros(0), np.zeros(0), np.zeros(0), task_ids=est.task_ids_,
                           worker_ids=est.worker_ids_, classes=est.classes_, truth=truth,
                           name=answers.name, _sorted=True)
    paths = write_results(est, out_dir, strategy=state.kind, hard=args.hard, extra_summary={
        "n_answers": int(state.log.n_answers), "n_batches": int(state.n_batches),
        "state": str(state_dir), "batch_answers": int(answers.n_answers),
        "update_iter": int(args.update_iter), "refresh": float(refresh),
        "sweep": bool(args.sweep)})
    save_state(state, state_dir)
    if not args.quiet:
        print(f"{state.kind} update: {answers.n_answers} new answers, now "
              f"{len(state.tasks)} tasks, {state.log.n_answers} answers, "
              f"{state.n_batches} batches, {est.fit_seconds_:.3f} s")
        print(f"wrote {', '.join(p.name for p in paths.values())} to {out_dir}; "
              f"state saved to {state_dir}")
    return 0
