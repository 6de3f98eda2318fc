"""The cross-validation behind ``benchmarks/music.py``'s settings (``--tune``): no true label.

``python benchmarks/music.py --tune [--tune-stage2-only] [--tune-rows ROW ...]`` runs
:func:`tune`. Each candidate configuration is trained on 4 of 5 folds of the 700 training
songs (with their answers) and scored on the held-out songs by :func:`held_out_scores`' ``eacc``:
the expected accuracy of its predictions under the Dawid-Skene posterior of each held-out song
computed from that song's own answers (worker confusions and class priors estimated on the
training folds' answers). A candidate replaces the incumbent only when its mean paired gain over
the (fold, seed) units exceeds one standard error. Stage 1 searches the shared backbone and
optimiser (``TUNE_AXES``) from ``music.PAPER``; stage 2 each row's own settings (head learning
rate, initial confusions, regularisation weights, ...). :class:`Tuner` runs the fits in a process
pool and can keep them in a ``--tune-cache`` file, so an interrupted search resumes.
``music_base.py`` uses the same folds and tuner.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import music

# ============================================================================ rows and grids
TWO_STAGE = {"mv-hard", "mv-soft", "naivesoft", "ds"}
LAM_ROWS = {"geocrowdnet-f", "geocrowdnet-w", "tracereg"}
PRIOR_ROWS = {"raykar"}
CONAL_ROWS = {"conal"}

CCEM_ROWS = {"ccem", "raykar"} | LAM_ROWS
#: issue 16's rows: MaDL and Annot-Mix (a confusion *network*, default head_lr = lr / 10),
#: COINNet (CCEM + outliers: init_scale, lam, mu) and UnionNet (init_scale)
NETWORK_ROWS = {"madl", "annot-mix"}
COIN_ROWS = {"coinnet"}
MIX_ROWS = {"annot-mix"}
UNION_ROWS = {"unionnet"}

# ---------------------------------------------------------------------------- the search
#: Rows whose mean criterion drives stage 1 (one per family: two-stage, crowd layer, CCEM).
TUNE_PANEL = ("ds", "crowdlayer-mw", "geocrowdnet-w")
#: Stage 1: coordinate descent over these axes, in this order (values tried for each).
TUNE_AXES: list[tuple[str, list[Any]]] = [
    ("n_epochs", [50, 100, 150, 250]),  # more would break the table's 5-minute budget
    ("lr", [3e-4, 1e-3, 3e-3]),
    ("batch_size", [64, 128, 256]),
    ("hidden", [(64,), (128,), (256,), (512,)]),
    ("dropout", [0.3, 0.5, 0.7]),
    ("weight_decay", [0.0, 1e-4, 1e-3, 1e-2]),
    ("batch_norm", [False, True]),
    ("val_fraction", [0.05, 0.1, 0.2]),
]
#: Stage 2, per row: the head's learning rate (end-to-end rows), the initial confusion logits
#: of the CCEM family (``init_scale * I``; 6 is the library default, 1 the official code's
#: ``P = I``) and lambda (regularised rows).
#: A value equal to the row's default rate (``lr * head_lr_factor``: lr for the crowd layers and
#: CoNAL, 10 lr for the CCEM family, lr / 10 for the confusion networks of MaDL / Annot-Mix) is
#: the incumbent itself and is not fitted twice.
HEAD_LR_VALUES = [1e-3, 1e-2, 1e-1]  # lr / 10, lr, 10 lr
HEAD_LR_NETWORK_VALUES = [1e-4, 3e-4, 1e-3, 3e-3]
#: COINNet's outlier penalty (0.01 in the authors' code) and Annot-Mix's Beta(alpha, alpha)
MU_VALUES = [1e-3, 1e-1]
#: COINNet's outliers' learning rate as a multiple of the classifier's (default 0.3; 1: the
#: authors' one optimiser; benchmarks/README.md has the cross-validation)
OUTLIER_LR_VALUES = [0.1, 1.0, 3.0]
ALPHA_VALUES = [0.5, 1.0, 2.0, 4.0]
INIT_SCALE_VALUES = [1.0, 3.0, 6.0]
LAM_VALUES = [0.001, 0.01, 0.1]
PRIOR_VALUES = [0.0, 0.5, 1.0, 2.0]
#: CoNAL's own settings: the regulariser's scale (1e-5 in the official code) and the size of the
#: auxiliary network's embeddings (20 there)
CONAL_SCALE_VALUES = [0.0, 1e-5, 1e-3, 1e-2]
CONAL_EMBEDDING_VALUES = [8, 20, 64]
#: per-row training length (None: SHARED's 50 epochs of the cosine schedule)
EPOCH_VALUES = [None, 25, 100]
#: "refit": train on every training song (no validation split, so no selection: the last
#: epoch) for a number of epochs chosen by the cross-validation (None: the incumbent, 10% of the
#: songs held out and the epoch chosen by their answers' loss)
REFIT_VALUES = [None, 50, 100, 150, 250]
#: ensemble size (1: a single model; ``members`` > 1: the mean probability of that many models
#: with their own seeds). Tried for geocrowdnet-f and conal: no gain in the cross-validation
#: (see benchmarks/README.md), so no table row is an ensemble.
MEMBER_VALUES = [1, 5]


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(perm[i::k]) for i in range(k)]


def held_out_scores(train_answers, held_answers, pred: np.ndarray) -> dict[str, float]:
    """Scores of predictions ``pred`` on held-out songs, from their crowd answers only.

    ``eacc``: expected accuracy under the Dawid-Skene posterior of each held-out song computed
    from the held-out answers alone, with the workers' confusions and class priors estimated by
    Dawid-Skene on the training folds' answers (a worker without training answers gets the
    answer-weighted mean confusion). ``agree``: the share of held-out answers equal to the
    prediction. Neither uses a true label.
    """
    from crowdlearn.aggregate import make_strategy

    ds = make_strategy("ds").fit(train_answers)
    conf = np.asarray(ds.confusions_, dtype=np.float64)
    count = np.bincount(train_answers.worker, minlength=train_answers.n_workers)
    pooled = (conf * count[:, None, None]).sum(0) / max(count.sum(), 1)
    conf = np.where(count[:, None, None] > 0, conf, pooled)
    conf = 0.98 * conf + 0.02 / conf.shape[1]  # no zero probability
    logq = np.tile(np.log(np.asarray(ds.priors_, dtype=np.float64) + 1e-12),
                   (held_answers.n_tasks, 1))
    np.add.at(logq, held_answers.task, np.log(conf[held_answers.worker, :, held_answers.label]))
    q = np.exp(logq - logq.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    return {"eacc": float(q[np.arange(len(pred)), pred].mean()),
            "agree": float(np.mean(pred[held_answers.task] == held_answers.label))}


def _cv_job(job: dict[str, Any]) -> dict[str, Any]:
    """One fold of the tuning cross-validation (crowd answers only, never a true label)."""
    answers, X = music._DATA["answers"], music._DATA["X"]
    held = folds(answers.n_tasks, job["n_folds"], job["fold_seed"])[job["fold"]]
    train = np.setdiff1d(np.arange(answers.n_tasks), held)
    a_train = answers.select_tasks(train, keep_all_workers=True)
    a_held = answers.select_tasks(held, keep_all_workers=True)
    clf = music.make_classifier(job["key"], job["config"], job["per_row"], job["seed"])
    t0 = time.perf_counter()
    clf.fit(X[train], a_train)
    seconds = time.perf_counter() - t0
    pred = clf.predict_proba(X[held]).argmax(axis=1)
    return {**held_out_scores(a_train, a_held, pred), "best_epoch": float(clf.best_epoch_),
            "seconds": seconds}


# ============================================================================ tuning
class Tuner:
    """Cross-validated scores of (row, configuration) pairs, cached, computed in a pool."""

    def __init__(self, pool: ProcessPoolExecutor, n_folds: int, fold_seed: int,
                 seeds: Sequence[int], store: Path | None = None) -> None:
        self.pool, self.n_folds, self.fold_seed, self.seeds = pool, n_folds, fold_seed, seeds
        self.cache: dict[str, list[dict[str, Any]]] = {}
        self.fits = 0
        # --tune-cache: every finished fold fit is appended to a JSON-lines file as it ends, so
        # an interrupted search resumes where it stopped (same folds, same code assumed)
        self.store = store
        self.units: dict[tuple[str, int, int], dict[str, Any]] = {}
        if store is not None and store.is_file():
            for line in store.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if (rec["n_folds"], rec["fold_seed"]) == (n_folds, fold_seed):
                    self.units[(rec["ck"], rec["seed"], rec["fold"])] = rec["result"]

    @staticmethod
    def _key(key: str, config: dict[str, Any], per_row: dict[str, Any], seeds) -> str:
        return json.dumps([key, sorted(config.items()), sorted(per_row.items()), list(seeds)],
                          default=str)

    def scores(self, requests: list[tuple[str, dict[str, Any], dict[str, Any], Sequence[int]]]):
        """Per-unit (fold x seed) results of every request, running the missing ones at once."""
        todo, jobs = [], []
        for key, config, per_row, seeds in requests:
            ck = self._key(key, config, per_row, seeds)
            if ck in self.cache or ck in todo:
                continue
            todo.append(ck)
            jobs += [{"ck": ck, "key": key, "config": config, "per_row": per_row, "seed": s,
                      "n_folds": self.n_folds, "fold_seed": self.fold_seed, "fold": f}
                     for s in seeds for f in range(self.n_folds)]
        run = [j for j in jobs if (j["ck"], j["seed"], j["fold"]) not in self.units]
        for j, result in zip(run, self.pool.map(_cv_job, run), strict=True):
            self.units[(j["ck"], j["seed"], j["fold"])] = result
            self.fits += 1
            if self.store is not None:
                with open(self.store, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"ck": j["ck"], "seed": j["seed"], "fold": j["fold"],
                                        "n_folds": j["n_folds"], "fold_seed": j["fold_seed"],
                                        "result": result}) + "\n")
        for ck in todo:
            self.cache[ck] = [self.units[(j["ck"], j["seed"], j["fold"])]
                              for j in jobs if j["ck"] == ck]
        return [self.cache[self._key(*r)] for r in requests]


def _paired(cand: list[float], base: list[float]) -> tuple[float, float]:
    d = np.asarray(cand) - np.asarray(base)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.inf
    return float(d.mean()), se


ROW_DEFAULTS = {"head_lr": None, "init_scale": 6.0, "lam": 0.01, "prior": 0.0,
                 "n_epochs": None, "members": 1, "refit_epochs": None, "scale": 1e-5,
                 "embedding_dim_aux": 20, "mu": 0.01, "alpha": 1.0, "outlier_lr_factor": 0.3}


def default_head_lr(key: str, config: dict[str, Any]) -> float:
    """The head rate a row uses when ``head_lr`` is left at None (``lr * head_lr_factor``)."""
    from crowdlearn.deep.heads import get_head_class

    strategy = next(r[2] for r in music.ROWS if r[0] == key)
    return float(config["lr"]) * get_head_class(strategy).head_lr_factor


def with_param(per_row: dict[str, Any], param: str, value: Any) -> dict[str, Any]:
    """``per_row`` with ``param`` set (left out when ``value`` is the strategy's default)."""
    out = {k: v for k, v in per_row.items() if k != param}
    if value != ROW_DEFAULTS[param]:
        out[param] = value
    return out


def _choose(values: Sequence[Any], units_of, base: list[float], incumbent: Any, label: str,
            record: dict[str, Any], log_rows: list[dict[str, Any]]) -> Any:
    """The tuning rule: the candidate whose mean paired gain over the incumbent's units
    (``base``) exceeds one standard error, the largest such gain; otherwise the incumbent.
    Every candidate is printed and logged (``record`` + value, eacc, gain, se)."""
    best_v, best_gain = incumbent, 0.0
    if incumbent not in values:  # e.g. head_lr=None, the row's default rate
        print(f"  {label} = {_fmt_value(incumbent):<8}  eacc {np.mean(base):.4f}  (incumbent)",
              flush=True)
    for v in values:
        units = units_of(v)
        gain, se = _paired(units, base)
        log_rows.append({**record, "value": _fmt_value(v), "eacc": float(np.mean(units)),
                         "gain": gain, "se": se})
        print(f"  {label} = {_fmt_value(v):<8}  eacc {np.mean(units):.4f}  gain {gain:+.4f} "
              f"+- {se:.4f}{'  *' if v == incumbent else ''}", flush=True)
        if v != incumbent and gain > se and gain > best_gain:
            best_v, best_gain = v, gain
    return best_v


def _fmt_value(v: Any) -> str:
    return "default" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def tune(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Choose ``SHARED`` and ``PER_ROW`` by cross-validation on the training songs.

    Criterion: 5-fold cross-validation over the 700 training songs (folds fixed by
    ``--tune-fold-seed``). Each fold's model is trained exactly as in the benchmark (with its
    own validation split and selection) on the other folds' songs and answers, and scored on the
    held-out songs by :func:`held_out_scores` ``eacc`` (the Dawid-Skene posterior from the held-out
    answers; no true label anywhere). Units are (fold, seed[, panel row]); a candidate value
    replaces the incumbent only if its mean paired improvement over the units exceeds one
    standard error (otherwise the simpler incumbent stays).

    Stage 1 (shared backbone/optimiser): coordinate descent over ``TUNE_AXES`` from ``PAPER``,
    scored by the rows of ``TUNE_PANEL`` with 1 seed, up to ``--tune-passes`` passes (stops
    early when a pass changes nothing). Stage 2 (per row, 2 seeds): the head's learning rate for
    end-to-end rows, then the initial confusion logits of the CCEM family, then lambda for the
    regularised rows.
    """
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    chosen: dict[str, Any] = dict(music.SHARED if args.tune_stage2_only else music.PAPER)
    log_rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=music._init_worker,
                             initargs=(str(folder),)) as pool:
        tuner = Tuner(pool, args.tune_folds, args.tune_fold_seed, seeds=(0,),
                      store=args.tune_cache)
        seeds1 = (0,)

        def panel_units(config: dict[str, Any]) -> list[float]:
            res = tuner.scores([(k, config, {}, seeds1) for k in TUNE_PANEL])
            return [u["eacc"] for r in res for u in r]

        if not args.tune_stage2_only:
            print("Stage 1: shared backbone and optimiser (panel: "
                  f"{', '.join(TUNE_PANEL)}; {args.tune_folds}-fold CV, criterion eacc)")
        for pass_no in range(1, 0 if args.tune_stage2_only else args.tune_passes + 1):
            changed = False
            for axis, values in TUNE_AXES:
                cands = [dict(chosen, **{axis: v}) for v in values]
                tuner.scores([(k, c, {}, seeds1) for c in cands for k in TUNE_PANEL])
                best_v = _choose(
                    values, lambda v, axis=axis: panel_units(dict(chosen, **{axis: v})),
                    panel_units(chosen), chosen[axis], f"pass {pass_no}  {axis:>12}",
                    {"stage": 1, "pass": pass_no, "axis": axis}, log_rows)
                if best_v != chosen[axis]:
                    print(f"  -> {axis} = {_fmt_value(best_v)}")
                    chosen[axis] = best_v
                    changed = True
            if not changed:
                break
        print(f"Stage 1 chose: {chosen}\n")

        # --tune-params: tune only those, starting from the current PER_ROW
        per_row: dict[str, dict[str, Any]] = (
            {k: dict(v) for k, v in music.PER_ROW.items()} if args.tune_params else {})
        seeds2 = tuple(range(args.tune_seeds))
        rows = [k for k in music.ROW_KEYS if k != "gold" and k not in TWO_STAGE
                and (not args.tune_rows or k in args.tune_rows)]
        every_row = [k for k in music.ROW_KEYS if k != "gold"
                     and (not args.tune_rows or k in args.tune_rows)]
        print(f"Stage 2: per-row settings ({len(seeds2)} seed(s) x folds)")
        # (parameter, values, rows, tuned only when --tune-params names it)
        stage2 = (("head_lr", HEAD_LR_VALUES, [k for k in rows if k not in NETWORK_ROWS],
                   False),
                  ("head_lr", HEAD_LR_NETWORK_VALUES, [k for k in rows if k in NETWORK_ROWS],
                   False),
                  ("init_scale", INIT_SCALE_VALUES,
                   [k for k in rows if k in CCEM_ROWS | COIN_ROWS | UNION_ROWS], False),
                  ("lam", LAM_VALUES, [k for k in rows if k in LAM_ROWS | COIN_ROWS], False),
                  ("mu", MU_VALUES, [k for k in rows if k in COIN_ROWS], False),
                  ("outlier_lr_factor", OUTLIER_LR_VALUES, [k for k in rows if k in COIN_ROWS],
                   False),
                  ("alpha", ALPHA_VALUES, [k for k in rows if k in MIX_ROWS], False),
                  ("prior", PRIOR_VALUES, [k for k in rows if k in PRIOR_ROWS], False),
                  ("scale", CONAL_SCALE_VALUES, [k for k in rows if k in CONAL_ROWS], True),
                  ("embedding_dim_aux", CONAL_EMBEDDING_VALUES,
                   [k for k in rows if k in CONAL_ROWS], True),
                  ("n_epochs", EPOCH_VALUES, rows, True),
                  ("members", MEMBER_VALUES, rows, True),
                  ("refit_epochs", REFIT_VALUES, every_row, True))
        for param, values, which, on_request in stage2:
            if (param not in args.tune_params) if args.tune_params else on_request:
                continue
            def row_values(k: str, values: Sequence[Any] = values,
                           param: str = param) -> list[Any]:
                if param != "head_lr":
                    return list(values)
                own = default_head_lr(k, chosen)
                return [v for v in values if not math.isclose(v, own, rel_tol=1e-9)]

            reqs = [(k, chosen, with_param(per_row.get(k, {}), param, v), seeds2)
                    for k in which for v in row_values(k)]
            reqs += [(k, chosen, per_row.get(k, {}), seeds2) for k in which]
            tuner.scores(reqs)
            for k in which:
                cur = per_row.get(k, {})
                incumbent = cur.get(param, ROW_DEFAULTS[param])
                base = [u["eacc"] for u in tuner.scores([(k, chosen, cur, seeds2)])[0]]

                def units_of(v: Any, k: str = k, cur: dict[str, Any] = cur,
                             param: str = param) -> list[float]:
                    res = tuner.scores([(k, chosen, with_param(cur, param, v), seeds2)])
                    return [u["eacc"] for u in res[0]]

                best_v = _choose(row_values(k), units_of, base, incumbent,
                                 f"{k:>15}  {param:>7}",
                                 {"stage": 2, "row": k, "param": param}, log_rows)
                if best_v != incumbent:
                    per_row.setdefault(k, {})[param] = best_v
                    print(f"  -> {k}: {param} = {_fmt_value(best_v)}")
        fits = tuner.fits
    seconds = time.perf_counter() - started
    print("\nChosen configuration (paste into SHARED / PER_ROW of music.py):")
    print(f"SHARED = {chosen!r}")
    print(f"PER_ROW = {per_row!r}")
    print(f"({fits} fits, {seconds:.0f} s)")
    return {"shared": chosen, "per_row": per_row, "log": log_rows, "fits": fits,
            "seconds": seconds}


if __name__ == "__main__":  # the same as ``python benchmarks/music.py --tune ...``
    import sys

    sys.exit(music.main(["--tune", *sys.argv[1:]]))
