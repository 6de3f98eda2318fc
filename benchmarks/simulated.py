"""Simulated crowds on synthetic features: accuracy and confusion estimation of the deep strategies.

Run from the repository root (no download needed)::

    python benchmarks/simulated.py              # both tables, 2 seeds (~4 min on 2 cores)
    python benchmarks/simulated.py --quick      # 1 seed, small sizes (a smoke test)
    python benchmarks/simulated.py --digits     # adds scikit-learn's bundled digits (optional)
    python benchmarks/simulated.py --json out.json
    python benchmarks/simulated.py --only 1 --strategies ccem coinnet --set coinnet.mu=0.1

Items are drawn from a Gaussian mixture (``K`` classes, each a mixture of ``COMPONENTS``
Gaussians in ``DIM`` dimensions; the component means are fixed once, the items are drawn anew
for each seed) and labelled by annotators simulated with :func:`crowdlearn.simulate.simulate`
(each of the ``M`` annotators answers each item with probability ``p``, the random annotation
pattern of the CCEM paper; items that nobody answered are dropped):

(a) ``hammer-spammer``: 2 of 5 annotators are hammers (right with probability 0.95, errors
    uniform), 3 are spammers (uniform answers);
(b) ``separable-uniform``: the CCEM paper's synthetic annotators (Ibrahim, Nguyen & Fu, ICLR
    2023), M = 5: one near-perfect annotator ``I + gamma U`` (normalised, gamma = 0.01), four
    near-uniform ones;
(c) ``symmetric-0.6``: 5 annotators, each right with probability 0.6, errors uniform;
(d) ``instance-clusters`` (instance-dependent noise, issue 16): an item's *region* is the
    mixture component it was drawn from (component 0 or 1 of its class: a cluster of the
    feature space). Annotators 0 and 1 are right with probability 0.95 in region 0 and answer
    ``k + 1`` (mod K) for class ``k`` with probability 0.7 in region 1 (else uniform); annotators
    2 and 3 the other way round; annotator 4 is right with probability 0.6 everywhere. A
    class-conditional model sees annotators 0-3 as half right, half shifted; a model whose
    confusions depend on the item (MaDL, Annot-Mix) can tell the regions apart. The "true
    confusions" of the ``err`` column are the annotators' confusions averaged over the regions;
(e) ``instance-spam``: as (d), but in its bad region an annotator answers uniformly at random
    (experts in one part of the feature space, guessing in the other).

Table 1: test accuracy (on clean items from the same mixture), confusion estimation error
(:func:`crowdlearn.metrics.confusion_estimation_error`: mean relative L1 error over annotators,
after the best class permutation) and annotator-performance error (``perf``: mean absolute error
of the estimated probability that annotator ``m`` answers item ``x`` correctly,
``P^(x, m)[y, y]`` against the simulation's, over every test item and annotator; a
class-conditional model's ``P^(x, m)`` is its confusion of ``m``) of each strategy. Table 2:
the estimation error of CCEM and GeoCrowdNet(F/W) as the number of items grows, which the CCEM
paper's analysis says should fall.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

# ============================================================================ settings
N_CLASSES = 5
DIM = 10
COMPONENTS = 2  # Gaussians per class (so that the classes are not linearly separable)
SEPARATION = 1.5  # scale of the component means (unit-variance noise): ~95% clean accuracy
N_WORKERS = 5
P_ANSWER = 0.5  # each annotator answers each item with this probability
N_TRAIN = 2000
N_TEST = 5000
GAMMA = 0.01  # separable-uniform: the good annotator is I + GAMMA * U (as the CCEM code)
SWEEP_SIZES = (500, 2000, 8000)
SWEEP_STRATEGIES = ("ccem", "geocrowdnet-f", "geocrowdnet-w", "raykar")

#: backbone and optimisation of every run (fixed, not tuned on test items)
BACKBONE = {"hidden": (64,), "dropout": 0.2}
#: head_lr = lr for every row, as when the table was measured (the library's default head_lr
#: is now 10 x lr for the CCEM family: crowdlearn.deep_defaults.HEAD_LR_FACTOR)
TRAIN = {"lr": 1e-3, "head_lr": 1e-3, "batch_size": 128, "val_fraction": 0.1}
#: gradient steps per run: epochs = ceil(STEPS / steps per epoch), so every size gets the same
#: optimisation budget (about 1,940 answered items -> 115 epochs; 7,750 -> 30 epochs)
STEPS = 1600

SCENARIOS: dict[str, dict[str, Any]] = {
    "hammer-spammer": {"model": "hammer-spammer",
                       "model_params": {"hammer_share": 0.4, "hammer_accuracy": 0.95}},
    "separable-uniform": {"model": "separable-uniform", "model_params": {"gamma": GAMMA}},
    "symmetric-0.6": {"model": "symmetric", "model_params": {"accuracy": 0.6}},
    "instance-clusters": {"model": "instance-clusters", "model_params": {"bad": "shift"}},
    "instance-spam": {"model": "instance-clusters", "model_params": {"bad": "uniform"}},
}
#: instance-clusters: (accuracy in the good region, shift probability in the bad region, the
#: anchor annotator's accuracy)
CLUSTER_GOOD, CLUSTER_SHIFT, CLUSTER_ANCHOR = 0.95, 0.7, 0.6

#: Initial confusion logits of the CCEM family. The library's default is ``6 I`` (97% correct
#: with 5 classes); Adam moves a parameter by about ``lr`` per step, so with lr 1e-3 and a few
#: thousand steps those confusions hardly leave the identity (see the ``ccem (init 6)`` row).
#: The official code's initialisation is ``P = I`` (``init_scale=1``), used for these rows.
CCEM_INIT = {"init_scale": 1.0}

#: (key, label, strategy, strategy parameters)
STRATEGIES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("mv", "two-stage MV (hard)", "two-stage", {"aggregator": "mv", "soft": False}),
    ("ds", "two-stage DS (soft)", "two-stage", {"aggregator": "ds"}),
    ("crowdlayer", "crowdlayer MW", "crowdlayer", {}),
    ("conal", "conal", "conal", {}),
    ("ccem", "ccem", "ccem", CCEM_INIT),
    ("ccem-init6", "ccem (library init 6)", "ccem", {}),
    ("geocrowdnet-f", "geocrowdnet-f", "geocrowdnet-f", CCEM_INIT),
    ("geocrowdnet-w", "geocrowdnet-w", "geocrowdnet-w", CCEM_INIT),
    ("tracereg", "tracereg", "tracereg", CCEM_INIT),
    ("raykar", "raykar (joint likelihood)", "raykar", CCEM_INIT),
    ("madl", "madl", "madl", {}),
    ("annot-mix", "annot-mix", "annot-mix", {}),
    ("coinnet", "coinnet", "coinnet", CCEM_INIT),
    ("unionnet", "unionnet", "unionnet", CCEM_INIT),
]
#: per-row training settings over ``TRAIN``: the confusion networks of MaDL and Annot-Mix at
#: their library default, lr / 10 (at lr they memorise each item's answers)
ROW_TRAIN: dict[str, dict[str, Any]] = {"madl": {"head_lr": 1e-4},
                                         "annot-mix": {"head_lr": 1e-4}}
STRATEGY_KEYS = [s[0] for s in STRATEGIES]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ============================================================================ data
def mixture_means(seed: int = 0) -> np.ndarray:
    """(K, COMPONENTS, DIM) component means, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N_CLASSES, COMPONENTS, DIM)) * SEPARATION


def sample_mixture(means: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` items (float32) and their classes: a uniform class, a uniform component, unit noise."""
    x, y, _ = sample_mixture_regions(means, n, seed)
    return x, y


def sample_mixture_regions(means: np.ndarray, n: int, seed: int):
    """:func:`sample_mixture` and each item's component (its region)."""
    rng = np.random.default_rng(seed)
    k, c, d = means.shape
    y = rng.integers(k, size=n)
    comp = rng.integers(c, size=n)
    x = means[y, comp] + rng.normal(size=(n, d))
    return x.astype(np.float32), y.astype(np.int64), comp


def region_confusions(k: int = N_CLASSES, bad: str = "shift") -> np.ndarray:
    """instance-clusters / instance-spam: (2 regions, M, K, K) confusions, rows = true class;
    in its bad region an annotator shifts ``k -> k + 1`` (``bad="shift"``) or answers uniformly
    at random (``bad="uniform"``)."""
    eye = np.eye(k)
    shift = np.roll(eye, 1, axis=1)
    good = CLUSTER_GOOD * eye + (1 - CLUSTER_GOOD) / (k - 1) * (1 - eye)
    bad = (CLUSTER_SHIFT * shift + (1 - CLUSTER_SHIFT) / k if bad == "shift"
           else np.full((k, k), 1.0 / k))
    anchor = CLUSTER_ANCHOR * eye + (1 - CLUSTER_ANCHOR) / (k - 1) * (1 - eye)
    out = np.empty((2, N_WORKERS, k, k))
    for m in range(N_WORKERS):
        if m == N_WORKERS - 1:
            out[:, m] = anchor
        else:
            first = m < (N_WORKERS - 1) // 2
            out[0, m], out[1, m] = (good, bad) if first else (bad, good)
    return out


class _RegionCrowd:
    """What :func:`make_crowd` returns for the region scenarios (answers + averaged confusions)."""

    def __init__(self, answers, confusions: np.ndarray) -> None:
        self.answers, self.confusions = answers, confusions


def make_region_crowd(y: np.ndarray, region: np.ndarray, seed: int,
                      scenario: str = "instance-clusters") -> _RegionCrowd:
    from crowdlearn.answers import Answers

    rng = np.random.default_rng(20_000 + seed)
    conf = region_confusions(bad=SCENARIOS[scenario]["model_params"]["bad"])
    n = len(y)
    asked = rng.random((n, N_WORKERS)) < P_ANSWER
    task, worker = np.nonzero(asked)
    rows = conf[region[task], worker, y[task]]                      # (answers, K)
    label = (rng.random(len(task))[:, None] > np.cumsum(rows, axis=1)).sum(1)
    label = np.minimum(label, N_CLASSES - 1)
    answers = Answers.from_arrays(task, worker, label, classes=np.arange(N_CLASSES),
                                  name=scenario)
    return _RegionCrowd(answers, conf.mean(axis=0))


def digits_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits (1,797 8x8 images, 10 classes): 1,300 train / the rest test."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(1000 + seed).permutation(len(y))
    tr, te = perm[:1300], perm[1300:]
    return (x[tr].astype(np.float32), y[tr].astype(np.int64), x[te].astype(np.float32),
            y[te].astype(np.int64))


def make_crowd(scenario: str, y: np.ndarray, seed: int, region: np.ndarray | None = None):
    """Simulated answers for true labels ``y``; items nobody answered are dropped.

    Returns the crowd and the indices of the kept items.
    """
    from crowdlearn.simulate import simulate

    spec = SCENARIOS[scenario]
    if spec["model"] == "instance-clusters":
        crowd = make_region_crowd(y, region, seed, scenario)  # tasks: the answered items
        return crowd, np.asarray(crowd.answers.task_ids, dtype=np.int64)
    crowd = simulate(true_labels=y, n_classes=int(max(y.max() + 1, N_CLASSES)),
                     n_workers=N_WORKERS, model=spec["model"], model_params=spec["model_params"],
                     p=P_ANSWER, seed=10_000 + seed, name=scenario)
    answered = np.flatnonzero(np.diff(crowd.answers.task_indptr) > 0)
    return crowd, answered


# ============================================================================ one run
def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # tiny models: one thread per process is much faster
    from crowdlearn.deep import CrowdClassifier

    x, y = sample_mixture(mixture_means(), 40, 0)  # torch's one-off initialisation, untimed
    from crowdlearn.answers import Answers

    a = Answers.from_arrays(np.arange(40), np.zeros(40, dtype=np.int64), y,
                            classes=np.arange(N_CLASSES))
    CrowdClassifier("mlp", "ccem", n_epochs=1, device="cpu", val_fraction=0.0).fit(x, a)


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Draw the data of (scenario, n, seed), fit one strategy, score it."""
    from crowdlearn.deep import CrowdClassifier
    from crowdlearn.metrics import confusion_estimation_error

    seed, n = job["seed"], job["n"]
    region = region_test = None
    if job["data"] == "digits":
        x, y, x_test, y_test = digits_data(seed)
    else:
        means = mixture_means()
        x, y, region = sample_mixture_regions(means, n, seed)
        x_test, y_test, region_test = sample_mixture_regions(means, N_TEST, 500_000 + seed)
    crowd, kept = make_crowd(job["scenario"], y, seed, region)
    # kept: item numbers = task ids (0..n-1 for simulate's crowds, which keep every item)
    answers = crowd.answers.select_tasks(np.searchsorted(crowd.answers.task_ids, kept),
                                         keep_all_workers=True).with_truth(None)
    x = x[kept]
    steps_per_epoch = math.ceil(len(kept) * (1 - TRAIN["val_fraction"]) / TRAIN["batch_size"])
    epochs = job["epochs"] or max(1, math.ceil(job["steps"] / steps_per_epoch))
    _, _, strategy, params = next(r for r in STRATEGIES if r[0] == job["key"])
    params = {**params, **job.get("params", {})}
    clf = CrowdClassifier("mlp", strategy, strategy_params=params, backbone_params=BACKBONE,
                          n_epochs=epochs, device="cpu", seed=seed,
                          **{**TRAIN, **ROW_TRAIN.get(job["key"], {})})
    t0 = time.perf_counter()
    clf.fit(x, answers)
    seconds = time.perf_counter() - t0
    err = None
    if clf.confusions_ is not None:
        err = confusion_estimation_error(crowd.confusions, clf.confusions_)
    perf = None
    if job["data"] == "mixture":
        spec = SCENARIOS[job["scenario"]]
        if spec["model"] == "instance-clusters":
            true = region_confusions(bad=spec["model_params"]["bad"])[region_test]
        else:
            true = np.broadcast_to(np.asarray(crowd.confusions),
                                   (len(y_test),) + np.shape(crowd.confusions))
        perf = performance_error(clf, x_test, y_test, true)
    return {**{k: v for k, v in job.items() if k != "steps"}, "epochs": epochs,
            "n_answered": len(kept), "n_answers": answers.n_answers,
            "accuracy": clf.score(x_test, y_test), "error": err, "perf": perf,
            "best_epoch": int(clf.best_epoch_), "seconds": seconds}


def performance_error(clf, x_test: np.ndarray, y_test: np.ndarray,
                      true: np.ndarray) -> float | None:
    """Mean |P^(x, m)[y, y] - P(x, m)[y, y]| over test items x (true class y) and annotators m;
    ``true`` (n_test, M, K, K). ``None`` for a strategy without confusions."""
    import torch

    from crowdlearn.deep.data import Batch

    model, head = clf.model_, clf.head_
    xs = torch.as_tensor(np.asarray(clf._standardize(x_test), dtype=np.float32))
    n, m = xs.shape[0], clf.n_workers_
    model.eval()
    with torch.no_grad():
        logits = model.backbone(xs)
        batch = Batch(x=xs, tasks=torch.arange(n), rows=torch.arange(n).repeat_interleave(m),
                      workers=torch.arange(m).repeat(n), labels=torch.zeros(n * m,
                                                                            dtype=torch.int64))
        conf = head.answer_confusions(logits, batch)
    if conf is None:
        return None
    conf = conf.reshape(n, m, conf.shape[-2], conf.shape[-1]).cpu().numpy()
    ii, mm = np.arange(n)[:, None], np.arange(m)[None, :]
    yy = np.asarray(y_test)[:, None]
    return float(np.abs(conf[ii, mm, yy, yy] - true[ii, mm, yy, yy]).mean())


# ============================================================================ tables
def _mean(values: list[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else math.nan


def _std(values: list[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan


def _cell(mean: float, std: float, spec: str, scale: float = 1.0) -> str:
    if math.isnan(mean):
        return "-"
    out = format(mean * scale, spec)
    return out if math.isnan(std) else f"{out}+-{format(std * scale, spec)}"


def _print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(r):
        return "  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i])
                         for i in range(len(r)))

    print(title)
    print("=" * len(title))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def table1(results: list[dict[str, Any]], data: str, scenarios: list[str],
           keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    res = [r for r in results if r["data"] == data and r["n"] == N_TRAIN
           and r["key"] in keys and r["scenario"] in scenarios]
    if not res:
        return out
    n_seeds = len({r["seed"] for r in res})
    header = (["strategy"] + [f"{s} acc %" for s in scenarios] + [f"{s} err" for s in scenarios]
              + [f"{s} perf" for s in scenarios])
    rows = []
    for key, label, _, _ in STRATEGIES:
        if key not in keys:
            continue
        accs, errs, perfs = [], [], []
        for s in scenarios:
            cell = [r for r in res if r["key"] == key and r["scenario"] == s]
            acc = [r["accuracy"] for r in cell]
            err = [r["error"] for r in cell]
            perf = [r.get("perf") for r in cell]
            perfs.append(_cell(_mean(perf), _std(perf), ".3f"))
            out.setdefault(s, {})[key] = {"accuracy": acc, "error": err, "perf": perf,
                                          "best_epoch": [r["best_epoch"] for r in cell],
                                          "seconds": [r["seconds"] for r in cell]}
            accs.append(_cell(_mean(acc), _std(acc), ".1f", 100))
            errs.append(_cell(_mean(err), _std(err), ".3f"))
        rows.append([label] + accs + errs + perfs)
    sizes = sorted({r["n_answered"] for r in res})
    n_desc = (f"{N_TRAIN:,} items drawn, {min(sizes):,}-{max(sizes):,} answered"
              if data == "mixture" else f"digits, 1,300 train images, {min(sizes):,} answered")
    _print_table(f"Table 1 ({data}): test accuracy (%) and confusion estimation error, mean+-std "
                 f"over {n_seeds} seed(s); {n_desc}; M={N_WORKERS}, p={P_ANSWER}",
                 header, rows)
    print()
    return out


def table2(results: list[dict[str, Any]], scenarios: list[str], sizes: list[int],
           steps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    res = [r for r in results if r["data"] == "mixture" and r["n"] in sizes
           and r["key"] in SWEEP_STRATEGIES and r["scenario"] in scenarios]
    if not res:
        return out
    sizes = sorted(sizes)
    n_seeds = len({r["seed"] for r in res})
    header = ["scenario / strategy"] + [f"N={n:,} err" for n in sizes] + \
        [f"N={n:,} acc %" for n in sizes]
    rows = []
    for s in scenarios:
        for key in SWEEP_STRATEGIES:
            errs, accs = [], []
            for n in sizes:
                cell = [r for r in res if r["key"] == key and r["scenario"] == s and r["n"] == n]
                err = [r["error"] for r in cell]
                acc = [r["accuracy"] for r in cell]
                out.setdefault(s, {}).setdefault(key, {})[n] = {
                    "error": err, "accuracy": acc, "epochs": [r["epochs"] for r in cell],
                    "seconds": [r["seconds"] for r in cell]}
                errs.append(_cell(_mean(err), _std(err), ".3f"))
                accs.append(_cell(_mean(acc), math.nan, ".1f", 100))
            rows.append([f"{s} / {key}"] + errs + accs)
    _print_table(f"Table 2: confusion estimation error as the number of items N grows "
                 f"(mean+-std over {n_seeds} seed(s); {steps} gradient steps per run)",
                 header, rows)
    print()
    return out


# ============================================================================ main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=None, help="seeds (default 2; 1 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="1 seed, 400 gradient steps, sizes 500/2,000 in table 2")
    p.add_argument("--scenarios", nargs="+", default=None, choices=list(SCENARIOS),
                   help="annotator scenarios (default: all)")
    p.add_argument("--strategies", nargs="+", default=None, choices=STRATEGY_KEYS,
                   help="table 1 strategies (default: all)")
    p.add_argument("--sweep-scenarios", nargs="+", default=None, choices=list(SCENARIOS),
                   help="scenarios of table 2 (default: all)")
    p.add_argument("--sizes", nargs="+", type=int, default=None,
                   help=f"table 2 sizes (default {' '.join(map(str, SWEEP_SIZES))})")
    p.add_argument("--steps", type=int, default=None, help=f"gradient steps per run ({STEPS})")
    p.add_argument("--epochs", type=int, default=None,
                   help="fixed number of epochs instead of a fixed number of steps")
    p.add_argument("--only", choices=("1", "2"), default=None, help="run one table only")
    p.add_argument("--digits", action="store_true",
                   help="also run table 1 on scikit-learn's digits (needs scikit-learn)")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--json", default=None, metavar="OUT", help="also save the numbers as JSON")
    p.add_argument("--set", action="append", default=[], metavar="ROW.PARAM=VALUE",
                   help="change one strategy parameter of a row (VALUE read as JSON, e.g. "
                   "coinnet.outlier_lr_factor=1); repeatable")
    args = p.parse_args(argv)
    args.params = {}
    for item in args.set:
        key, eq, value = item.partition("=")
        row, dot, param = key.partition(".")
        if not (eq and dot and row in STRATEGY_KEYS and param):
            p.error(f"--set {item!r}: expected ROW.PARAM=VALUE with ROW one of the strategies")
        try:
            args.params.setdefault(row, {})[param] = json.loads(value)
        except json.JSONDecodeError:
            p.error(f"--set {item!r}: VALUE is not JSON (a number, true/false, a quoted string)")
    if args.seeds is None:
        args.seeds = 1 if args.quick else 2
    if args.steps is None:
        args.steps = 400 if args.quick else STEPS
    if args.sizes is None:
        args.sizes = [500, 2000] if args.quick else list(SWEEP_SIZES)
    args.scenarios = args.scenarios or list(SCENARIOS)
    args.sweep_scenarios = args.sweep_scenarios or list(SCENARIOS)
    args.strategies = args.strategies or STRATEGY_KEYS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    jobs: dict[tuple, dict[str, Any]] = {}
    datasets = ["mixture"]
    if args.digits:
        try:
            import sklearn.datasets  # noqa: F401
            datasets.append("digits")
        except ImportError:
            print("digits: skipped (scikit-learn is not installed)\n")

    def add(data: str, scenario: str, key: str, n: int, seed: int) -> None:
        # table 2's N = N_TRAIN cells are table 1's runs: each run is done once
        jobs.setdefault((data, scenario, key, n, seed), {
            "data": data, "scenario": scenario, "key": key, "n": n, "seed": seed,
            "steps": args.steps, "epochs": args.epochs, "params": args.params.get(key, {})})

    for seed in range(args.seeds):
        if args.only in (None, "1"):
            for data in datasets:
                for s in args.scenarios:
                    for k in args.strategies:
                        add(data, s, k, N_TRAIN, seed)
        if args.only in (None, "2"):
            for s in args.sweep_scenarios:
                for n in args.sizes:
                    for k in SWEEP_STRATEGIES:
                        add("mixture", s, k, n, seed)
    jobs = list(jobs.values())
    # the largest and slowest first, so that the two processes finish together
    jobs.sort(key=lambda j: (-j["n"], j["key"] != "conal", j["key"] != "geocrowdnet-w"))
    started = time.perf_counter()
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker) as pool:
        results = list(pool.map(run_one, jobs))
    wall = time.perf_counter() - started
    report: dict[str, Any] = {
        "settings": {"n_classes": N_CLASSES, "dim": DIM, "components": COMPONENTS,
                     "separation": SEPARATION, "n_workers": N_WORKERS, "p": P_ANSWER,
                     "n_train": N_TRAIN, "n_test": N_TEST, "gamma": GAMMA,
                     "backbone": BACKBONE, "train": TRAIN, "steps": args.steps,
                     "epochs": args.epochs, "seeds": args.seeds, "scenarios": SCENARIOS,
                     "changed": args.params},
        "table1": {}, "runs": results, "wall_seconds": wall}
    if args.only in (None, "1"):
        for data in datasets:
            report["table1"][data] = table1(results, data, args.scenarios, args.strategies)
    report["table2"] = table2(results, args.sweep_scenarios, args.sizes, args.steps) \
        if args.only in (None, "2") else {}
    n_fits = len(results)
    print(f"MLP {BACKBONE['hidden']}, dropout {BACKBONE['dropout']}, Adam lr {TRAIN['lr']}, "
          f"batch {TRAIN['batch_size']}, {args.steps} steps, selection by validation answer loss "
          f"({TRAIN['val_fraction']:.0%} of the items); conal's error is that of its individual "
          "matrices; two-stage MV has no confusion estimate")
    if args.params:
        print(f"changed by --set: {args.params}")
    print(f"{n_fits} fits in {wall:.0f} s ({args.workers} processes)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
