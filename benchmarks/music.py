"""Music benchmark: learning a genre classifier from Mechanical Turk answers.

Run from the repository root with ``CROWDLEARN_DATA`` pointing at the data root (the folder
holding ``music/``)::

    python benchmarks/music.py                    # the table: every row x 5 seeds (~1.5 min)
    python benchmarks/music.py --quick            # 1 seed, 10 epochs (a smoke test)
    python benchmarks/music.py --strategies geocrowdnet-w mv-hard --seeds 3
    python benchmarks/music.py --tune             # the search (music_tune.py; hours)

Data (Rodrigues & Pereira, AAAI 2018): 700 training songs with 2,945 answers from 44 workers
(``music_genre_mturk.csv``), the songs' 124 audio features (``music_genre_gold.csv``, whose
``class`` column is the *true* genre: only the gold-ceiling row uses it), and 300 test songs
with their true genre (``music_genre_test.csv``, used only to score).

Every row trains the same backbone (an MLP, configuration ``SHARED``) with
:class:`crowdlearn.deep.CrowdClassifier` on all 700 training songs for a fixed number of epochs
(the last epoch is kept). The per-row settings (``PER_ROW``) were chosen by ``--tune``, a
cross-validation on the training songs that never looks at a true label (``music_tune.py``,
``benchmarks/README.md``); ``SHARED`` by the gold model's cross-validation on the training
songs (``music_base.py``), confirmed by the crowd-only criterion. Test labels only score.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

# ============================================================================ configuration
#: The starting point of ``--tune``: the papers' Music setting (CrowdLayer: one 128-unit hidden
#: layer, dropout 0.5, Adam; GeoCrowdNet: Adam, batch 128, lambda 0.01) and the library defaults.
PAPER: dict[str, Any] = {
    "hidden": (128,), "dropout": 0.5, "batch_norm": False, "lr": 1e-3, "weight_decay": 0.0,
    "batch_size": 128, "n_epochs": 100, "val_fraction": 0.1,
}

#: Backbone and optimisation shared by every row (issue 16). The gold model's 5-fold
#: cross-validation on the 700 training songs (benchmarks/music_base.py: their true genres, never
#: a test song) explained its 77% ceiling: the previous recipe (one 128-unit layer, no batch
#: norm, 250 epochs with 10% of the songs held out to choose the epoch) scored 76.1% against
#: 79.9% for the MaDL / Annot-Mix authors' recipe (256-128 units, dropout 0.5, lr 1e-2 with a
#: cosine schedule over 50 epochs, batch 64, every song trained on) with Adam and batch norm
#: after each hidden layer (which their configuration files do not show). One change
#: at a time: no batch norm 77.3%, a validation split 77.4%, one 128-unit layer 78.2%; the
#: optimiser details moved it by less than one standard error. The crowd-only criterion of
#: ``--tune`` (eacc on TUNE_PANEL, 5 folds) agreed: +1.25 +- 0.61 points over the previous
#: recipe (``music_base.py --crowd``), so every row uses it.
SHARED: dict[str, Any] = {
    "hidden": (256, 128), "dropout": 0.5, "batch_norm": True, "lr": 1e-2, "weight_decay": 0.0,
    "batch_size": 64, "n_epochs": 50, "val_fraction": 0.0, "schedule": "cosine",
}

#: Per-row strategy settings chosen by ``--tune`` (stage 2) under SHARED; rows not listed use
#: the defaults (head_lr: the strategy's, lr * head_lr_factor; init_scale = 6; lam = 0.01).
#: One run of the whole stage 2 on every end-to-end row, 2 seeds x 5 folds, 800 fits
#: (``--tune --tune-stage2-only --tune-seeds 2``): head_lr over {lr / 10, lr, 10 lr} ({1e-4,
#: 3e-4, 1e-3, 3e-3} for MaDL / Annot-Mix), then init_scale, lam, mu, outlier_lr_factor, alpha
#: and prior, each candidate kept only when its paired gain exceeds one standard error.
#: (Earlier runs, partly with 1 seed and on an earlier branch, had also chosen CCEM's head_lr
#: 1e-2 and Annot-Mix's alpha 2.) The evidence is printed in benchmarks/README.md.
PER_ROW: dict[str, dict[str, Any]] = {
    "crowdlayer-mw": {"head_lr": 1e-3},
    "crowdlayer-vb": {"head_lr": 0.1},
    "conal": {"head_lr": 0.1},
    "tracereg": {"head_lr": 0.01},
    "raykar": {"init_scale": 3.0},
    "coinnet": {"mu": 0.1},
    "annot-mix": {"alpha": 0.5},
}

#: (key, label, strategy, strategy parameters). ``gold`` trains on the true labels.
ROWS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("gold", "gold ceiling (700 true labels)", "two-stage", {"aggregator": "mv"}),
    ("mv-hard", "two-stage MV (hard)", "two-stage", {"aggregator": "mv", "soft": False}),
    ("mv-soft", "two-stage MV (soft, ties split)", "two-stage", {"aggregator": "mv"}),
    ("naivesoft", "two-stage NaiveSoft (vote shares)", "two-stage", {"aggregator": "naivesoft"}),
    ("ds", "two-stage DS (soft posteriors)", "two-stage", {"aggregator": "ds"}),
    ("crowdlayer-mw", "crowdlayer MW", "crowdlayer", {"conn_type": "MW"}),
    ("crowdlayer-vw", "crowdlayer VW", "crowdlayer", {"conn_type": "VW"}),
    ("crowdlayer-vb", "crowdlayer VB", "crowdlayer", {"conn_type": "VB"}),
    ("crowdlayer-vw+b", "crowdlayer VW+B", "crowdlayer", {"conn_type": "VW+B"}),
    ("crowdlayer-sw", "crowdlayer SW", "crowdlayer", {"conn_type": "SW"}),
    ("conal", "conal", "conal", {}),
    ("ccem", "ccem", "ccem", {}),
    ("geocrowdnet-f", "geocrowdnet-f", "geocrowdnet-f", {}),
    ("geocrowdnet-w", "geocrowdnet-w", "geocrowdnet-w", {}),
    ("tracereg", "tracereg", "tracereg", {}),
    ("raykar", "raykar (joint likelihood, deep DS)", "raykar", {}),
    ("madl", "madl (instance-dependent confusions)", "madl", {}),
    ("annot-mix", "annot-mix (madl + mixup)", "annot-mix", {}),
    ("coinnet", "coinnet (ccem + sparse outliers)", "coinnet", {}),
    ("unionnet", "unionnet (union transition matrix)", "unionnet", {}),
]
ROW_KEYS = [r[0] for r in ROWS]


TARGET_BEST = 75.0  # best crowd row, mean test accuracy in % (issue 16)
TARGET_GOLD = 79.0  # the gold ceiling (issue 16)
TARGET_W_OVER_MV = 5.0  # geocrowdnet-w minus two-stage MV (hard), points
TARGET_SECONDS = 300.0  # the whole table


# ============================================================================ data
_DATA: dict[str, Any] = {}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def music_dir(data: str | None) -> Path | None:
    if not data:
        return None
    d = Path(data) / "music"
    if (d / "music_genre_mturk.csv").is_file():
        return d
    d = Path(data)
    return d if (d / "music_genre_mturk.csv").is_file() else None


def load_music(folder: Path) -> dict[str, Any]:
    """Answers, training features (answers' task order), true training labels, test set."""
    from crowdlearn.answers import Answers
    from crowdlearn.io import read_features, read_table

    answers = read_table(folder / "music_genre_mturk.csv", task_col="id",
                         worker_col="annotator", label_col="class", truth=False)
    train = read_features(folder / "music_genre_gold.csv").align(answers)
    test = read_features(folder / "music_genre_test.csv")
    # the gold ceiling: one perfect "worker" answering every song's true genre
    gold = Answers.from_arrays(answers.task_ids, np.zeros(answers.n_tasks, dtype=np.int64),
                               train.labels, classes=answers.classes, name="music-gold")
    return {"answers": answers, "X": train.X, "gold": gold, "X_test": test.X,
            "y_test": test.labels}


def _init_worker(folder: str) -> None:
    import torch

    torch.set_num_threads(1)  # tiny models: one thread per process is much faster
    _DATA.update(load_music(Path(folder)))
    _warm_up()


def _warm_up() -> None:
    """One tiny fit, so that torch's one-off initialisation (~2 s) is not timed as a run."""
    from crowdlearn.deep import CrowdClassifier

    answers = _DATA["answers"].select_tasks(np.arange(20))
    CrowdClassifier("mlp", "ccem", n_epochs=1, device="cpu", val_fraction=0.0).fit(
        _DATA["X"][:20], answers)


# ============================================================================ fitting
class Ensemble:
    """``members`` classifiers with seeds ``1000 * seed + j``; predicts their mean probability."""

    def __init__(self, make, seed: int, members: int) -> None:
        self.models = [make(1000 * seed + j) for j in range(members)]

    def fit(self, X, answers) -> Ensemble:
        for m in self.models:
            m.fit(X, answers)
        self.best_epoch_ = float(np.mean([m.best_epoch_ for m in self.models]))
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.mean([m.predict_proba(X) for m in self.models], axis=0)

    def score(self, X, y) -> float:
        return float(np.mean(self.predict_proba(X).argmax(axis=1) == np.asarray(y)))


def make_classifier(key: str, config: dict[str, Any], per_row: dict[str, Any], seed: int):
    """The row's CrowdClassifier under the shared ``config`` and its own ``per_row`` settings
    (an :class:`Ensemble` of them when ``per_row`` has ``members`` > 1)."""
    from crowdlearn.deep import CrowdClassifier

    per_row = dict(per_row)
    members = int(per_row.pop("members", 1))
    if members > 1:
        return Ensemble(lambda s: make_classifier(key, config, per_row, s), seed, members)
    _, _, strategy, sparams = next(r for r in ROWS if r[0] == key)
    cfg = dict(config)
    backbone_params = {k: cfg.pop(k) for k in ("hidden", "dropout", "batch_norm")}
    row = dict(per_row)
    cfg.update({k: row.pop(k) for k in ("n_epochs", "patience") if k in row})
    refit = row.pop("refit_epochs", None)
    if refit is not None:  # no validation split: all the songs, a fixed number of epochs
        cfg.update(val_fraction=0.0, n_epochs=int(refit))
    lam = row.pop("lam", None)
    head_lr = row.pop("head_lr", None)
    return CrowdClassifier(
        "mlp", strategy, backbone_params=backbone_params, strategy_params={**sparams, **row},
        lam=lam, head_lr=head_lr, device="cpu", seed=seed, **cfg)


def _test_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train on all 700 songs (crowd answers, or true labels for ``gold``); test accuracy."""
    key, seed = job["key"], job["seed"]
    answers = _DATA["gold"] if key == "gold" else _DATA["answers"]
    clf = make_classifier(key, job["config"], job["per_row"], seed)
    t0 = time.perf_counter()
    clf.fit(_DATA["X"], answers)
    seconds = time.perf_counter() - t0
    return {"key": key, "seed": seed, "accuracy": clf.score(_DATA["X_test"], _DATA["y_test"]),
            "best_epoch": float(clf.best_epoch_), "seconds": seconds}


# ============================================================================ the table
def run_table(args: argparse.Namespace, folder: Path, keys: list[str]) -> dict[str, Any]:
    config = dict(SHARED)
    if args.epochs is not None:
        config["n_epochs"] = args.epochs
    jobs = [{"key": k, "seed": s, "config": config, "per_row": PER_ROW.get(k, {})}
            for s in range(args.seeds) for k in keys]
    slow = {"annot-mix": -1, "madl": -1, "conal": 0, "geocrowdnet-w": 1, "raykar": 2,
            "tracereg": 3, "geocrowdnet-f": 4, "ccem": 5}
    jobs.sort(key=lambda j: (slow.get(j["key"], 9), j["seed"]))  # slow fits first
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(str(folder),)) as pool:
        results = list(pool.map(_test_job, jobs))
    wall = time.perf_counter() - started
    rows_out = []
    for key, label, strategy, sparams in ROWS:
        if key not in keys:
            continue
        res = sorted((r for r in results if r["key"] == key), key=lambda r: r["seed"])
        acc = np.array([r["accuracy"] for r in res]) * 100
        rows_out.append({
            "key": key, "label": label, "strategy": strategy,
            "strategy_params": {**sparams, **PER_ROW.get(key, {})},
            "accuracy": acc.tolist(), "mean": float(acc.mean()),
            "std": float(acc.std(ddof=1)) if len(acc) > 1 else math.nan,
            "best_epoch": float(np.mean([r["best_epoch"] for r in res])),
            "seconds": float(np.mean([r["seconds"] for r in res])),
        })
    return {"config": config, "per_row": PER_ROW, "seeds": args.seeds, "rows": rows_out,
            "wall_seconds": wall, "workers": args.workers}


def print_table(report: dict[str, Any]) -> None:
    rows = report["rows"]
    head = ["strategy", "acc %", "std", "best ep", "s/run"]
    def label(r: dict[str, Any]) -> str:
        refit = r["strategy_params"].get("refit_epochs")
        return r["label"] + (f" [refit {refit}]" if refit is not None else "")

    cells = [[label(r), f"{r['mean']:.1f}",
              "-" if math.isnan(r["std"]) else f"{r['std']:.1f}",
              f"{r['best_epoch']:.0f}", f"{r['seconds']:.1f}"] for r in rows]
    widths = [max(len(str(c[i])) for c in [head] + cells) for i in range(len(head))]
    cfg = report["config"]
    sel = ("last epoch, every song trained on" if not cfg["val_fraction"] else
           "selection by validation answer loss unless [refit]")
    title = (f"Music: test accuracy over {report['seeds']} seed(s) (300 test songs; "
             f"MLP {cfg['hidden']}, dropout {cfg['dropout']}, batch norm "
             f"{cfg.get('batch_norm')}, {cfg['n_epochs']} epochs, {sel})")
    print(title)
    print("=" * len(title))

    def line(c):
        return "  ".join(str(c[i]).ljust(widths[i]) if i == 0 else str(c[i]).rjust(widths[i])
                         for i in range(len(c)))

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(line(c))
    print(f"config: {report['config']}; per row: {report['per_row'] or 'defaults'}")
    if any(r["strategy_params"].get("refit_epochs") is not None for r in rows):
        print("[refit E]: trained on all training songs for E epochs (no validation split; E "
              "chosen by the cross-validation), instead of the epoch chosen on a held-out share")
    print("std: sample standard deviation over seeds; best ep: mean selected epoch; s/run: mean "
          f"fit time with {report['workers']} runs in parallel")
    by = {r["key"]: r for r in rows}
    crowd = [r for r in rows if r["key"] != "gold"]
    if crowd:
        best = max(crowd, key=lambda r: r["mean"])
        print(f"target: best crowd row >= {TARGET_BEST:.0f}%: {best['label']} "
              f"{best['mean']:.1f}% -> {'met' if best['mean'] >= TARGET_BEST else 'NOT met'}")
    if "gold" in by:
        g = by["gold"]["mean"]
        print(f"target: gold ceiling >= {TARGET_GOLD:.0f}%: {g:.1f}% -> "
              f"{'met' if g >= TARGET_GOLD else 'NOT met'}")
    if "geocrowdnet-w" in by and "mv-hard" in by:
        gap = by["geocrowdnet-w"]["mean"] - by["mv-hard"]["mean"]
        print(f"target: geocrowdnet-w - two-stage MV (hard) >= {TARGET_W_OVER_MV:.0f} points: "
              f"{gap:+.1f} -> {'met' if gap >= TARGET_W_OVER_MV else 'NOT met'}")
    print(f"target: whole table < {TARGET_SECONDS:.0f} s: {report['wall_seconds']:.0f} s -> "
          f"{'met' if report['wall_seconds'] < TARGET_SECONDS else 'NOT met'}")


# ============================================================================ main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=None, help="seeds per row (default 5)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"override the number of epochs (default {SHARED['n_epochs']})")
    p.add_argument("--quick", action="store_true", help="1 seed, 10 epochs (a smoke test)")
    p.add_argument("--strategies", nargs="+", default=None, metavar="ROW",
                   help=f"rows to run: {', '.join(ROW_KEYS)}")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--tune", action="store_true",
                   help="run the cross-validated hyperparameter search instead of the table")
    p.add_argument("--tune-folds", type=int, default=5)
    p.add_argument("--tune-fold-seed", type=int, default=0)
    p.add_argument("--tune-passes", type=int, default=2)
    p.add_argument("--tune-stage2-only", action="store_true",
                   help="keep SHARED and tune only the per-row settings (stage 2)")
    p.add_argument("--tune-cache", type=Path, default=None, metavar="FILE",
                   help="append every cross-validation fit to this JSON-lines file and reuse "
                        "the fits it already holds (resumes an interrupted search)")
    p.add_argument("--tune-seeds", type=int, default=2,
                   help="seeds per fold in stage 2 (default 2)")
    p.add_argument("--tune-rows", nargs="+", default=None, metavar="ROW",
                   help="rows tuned in stage 2 (default: every end-to-end row)")
    p.add_argument("--tune-params", nargs="+", default=None, metavar="PARAM",
                   help="stage 2 tunes only these (head_lr, init_scale, lam, prior, scale, "
                   "embedding_dim_aux, mu, outlier_lr_factor, alpha, n_epochs, members, "
                   "refit_epochs), "
                   "starting from the script's PER_ROW")
    p.add_argument("--data", default=os.environ.get("CROWDLEARN_DATA"),
                   help="data root holding music/ (default: $CROWDLEARN_DATA)")
    p.add_argument("--json", default=None, metavar="OUT", help="also save the numbers as JSON")
    args = p.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.quick else 5
    if args.quick and args.epochs is None:
        args.epochs = 10
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folder = music_dir(args.data)
    if folder is None:
        print("Music benchmark skipped: set CROWDLEARN_DATA (or --data) to the data root "
              "holding music/music_genre_mturk.csv")
        return 0
    if args.tune:
        from music_tune import tune

        report = tune(args, folder)
    else:
        keys = ROW_KEYS
        if args.strategies:
            unknown = sorted(set(args.strategies) - set(ROW_KEYS))
            if unknown:
                print(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROW_KEYS)}",
                      file=sys.stderr)
                return 2
            keys = [k for k in ROW_KEYS if k in args.strategies]
        report = run_table(args, folder, keys)
        print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
