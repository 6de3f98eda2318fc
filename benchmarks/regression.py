"""Crowd regression on MovieReviews (Rodrigues et al.): aggregation and deep learning from crowds.

Part 1, aggregation: R^2 and MAE of each regression strategy against the 1,500 true training
ratings. Part 2, learning: an MLP on TF-IDF features of the reviews' bag of words, trained on
the true ratings (ceiling), on the mean of the answers, on the EM estimates (two-stage), and
end to end with each regression crowd-layer connection (B, S, S+B, B+S); test R^2 / MAE on the
3,506 test reviews, mean and sd over seeds.

Nothing is selected on test ratings, nor on true training ratings (except the ceiling row, which
trains on them): each network keeps the epoch with the lowest loss on a validation split (20%) of
the training reviews, scored against their crowd answers (crowd layer) or their aggregated
estimates (two-stage). The network settings (hidden layers, learning rate) are chosen once from
:data:`GRID` by the validation loss of training on the mean of the answers (validation reviews
scored against their mean answer), then used for every row.

The last column, test r^2 (the squared correlation of predictions and test ratings), is blind to
a constant offset and a scale: the crowd as a whole rates MovieReviews about 0.03-0.05 below
the true ratings, an offset no crowd-only method can see, which costs every crowd row test R^2
against the ceiling while its correlation can match the ceiling's.

    python benchmarks/regression.py [--seeds 5] [--terms 3000] [--epochs 40] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

#: candidate network settings: (hidden sizes, learning rate, weight decay)
GRID: tuple[tuple[tuple[int, ...], float, float], ...] = (
    ((), 3e-3, 0.0), ((64,), 1e-3, 1e-4), ((128,), 1e-3, 1e-4))


def load_ldac(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(row, term, count, n_docs) of an LDA-C file (``M term:count ...`` per line)."""
    rows, terms, counts = [], [], []
    n = 0
    with open(path, encoding="ascii") as f:
        for i, line in enumerate(f):
            parts = line.split()
            if not parts:
                continue
            for tok in parts[1:]:
                t, c = tok.split(":")
                rows.append(n)
                terms.append(int(t))
                counts.append(float(c))
            n += 1
            del i
    return np.array(rows), np.array(terms), np.array(counts), n


def tfidf(train_path: Path, test_path: Path, n_terms: int):
    """TF-IDF (log term frequency, smoothed idf, L2-normalised rows) over the ``n_terms`` terms
    with the highest document frequency in the *training* documents; scipy.sparse matrices."""
    import scipy.sparse as sp

    tr = load_ldac(train_path)
    te = load_ldac(test_path)
    n_vocab = int(max(tr[1].max(), te[1].max())) + 1
    xtr = sp.csr_matrix((tr[2], (tr[0], tr[1])), shape=(tr[3], n_vocab))
    xte = sp.csr_matrix((te[2], (te[0], te[1])), shape=(te[3], n_vocab))
    df = np.asarray((xtr > 0).sum(axis=0)).ravel()
    keep = np.argsort(-df, kind="stable")[:n_terms]
    idf = np.log((1 + tr[3]) / (1 + df[keep])) + 1.0

    def transform(x):
        x = x[:, keep].tocsr().astype(np.float64)
        x.data = np.log1p(x.data)
        x = x @ sp.diags(idf)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ x).astype(np.float32)

    return transform(xtr), transform(xte)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--terms", type=int, default=3000)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--data", default=os.environ.get("CROWDLEARN_DATA"))
    args = p.parse_args(argv)
    if not args.data or not (Path(args.data) / "movie-reviews").is_dir():
        print("movie-reviews data not found: set CROWDLEARN_DATA or --data", file=sys.stderr)
        return 2
    import torch

    from crowdlearn.aggregate.regression import available_regression, make_regression_strategy
    from crowdlearn.deep import CrowdRegressor
    from crowdlearn.io import read
    from crowdlearn.metrics_regression import mae, r2_score
    from crowdlearn.real import RealAnswers

    torch.set_num_threads(1)
    d = Path(args.data) / "movie-reviews"
    answers = read(d / "answers.txt", format="crowdlayer", missing=999999999,
                   truth=d / "labels_train_amt.txt")
    truth = answers.truth
    y_test = np.loadtxt(d / "labels_test.txt")

    print(f"MovieReviews: {answers.n_tasks} training reviews, {answers.n_workers} workers, "
          f"{answers.n_answers} answers; {len(y_test)} test reviews")
    print("\nAggregation against the true training ratings")
    print(f"{'strategy':<20} {'R^2':>7} {'MAE':>7} {'iter':>5}")
    estimates = {}
    for name in available_regression():
        est = make_regression_strategy(name).fit(answers)
        estimates[name] = est.result_arrays()["estimates"]
        print(f"{name:<20} {r2_score(truth, estimates[name]):7.4f} "
              f"{mae(truth, estimates[name]):7.4f} {est.n_iter_:5d}")

    t0 = time.perf_counter()
    xtr, xte = tfidf(d / "data_train_amt.txt", d / "data_test.txt", args.terms)
    xtr, xte = xtr.toarray(), xte.toarray()
    print(f"\nTF-IDF: {xtr.shape[1]} terms (top by training document frequency), "
          f"{time.perf_counter() - t0:.1f} s")
    gold = RealAnswers(np.arange(answers.n_tasks), np.zeros(answers.n_tasks, dtype=int), truth,
                       task_ids=answers.task_ids, worker_ids=np.array([0]))
    rows = [("true ratings (ceiling)", "twostage-mean", gold),
            ("mean of answers", "twostage-mean", answers),
            ("Raykar estimate", "twostage-raykar", answers),
            ("bias-scale estimate", "twostage-bias-scale", answers),
            ("crowd layer B", "crowdlayer-b", answers),
            ("crowd layer S", "crowdlayer-s", answers),
            ("crowd layer S+B", "crowdlayer-sb", answers),
            ("crowd layer B+S", "crowdlayer-bs", answers)]
    print("\nnetwork settings chosen by validation MSE against the mean answer (seed 0):")
    scores = []
    for hidden, lr, wd in GRID:
        reg = CrowdRegressor("twostage-mean", hidden=hidden, dropout=0.5, n_epochs=args.epochs,
                             lr=lr, weight_decay=wd, seed=0, device="cpu").fit(xtr, answers)
        scores.append(reg.result_.best_score)
        print(f"  hidden={hidden!s:<7} lr={lr:<6g} weight_decay={wd:<6g} val MSE "
              f"{reg.result_.best_score:.5f}")
    hidden, lr, wd = GRID[int(np.argmin(scores))]
    print(f"  -> hidden={hidden}, lr={lr:g}, weight_decay={wd:g}")
    print(f"\nMLP on TF-IDF, test scores over {args.seeds} seeds (mean +- sd)")
    print(f"{'trained on':<24} {'R^2':>16} {'MAE':>16} {'r^2':>7} {'s/fit':>6}")
    results = {}
    for label, strategy, data in rows:
        r2s, maes, corr = [], [], []
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            reg = CrowdRegressor(strategy, hidden=hidden, dropout=0.5, n_epochs=args.epochs,
                                 batch_size=64, lr=lr, weight_decay=wd, seed=seed,
                                 device="cpu").fit(xtr, data)
            pred = reg.predict(xte)
            r2s.append(r2_score(y_test, pred))
            maes.append(mae(y_test, pred))
            corr.append(float(np.corrcoef(pred, y_test)[0, 1] ** 2))
        sec = (time.perf_counter() - t0) / args.seeds
        results[label] = float(np.mean(r2s))
        print(f"{label:<24} {np.mean(r2s):7.4f} +- {np.std(r2s):.4f} {np.mean(maes):7.4f} +- "
              f"{np.std(maes):.4f} {np.mean(corr):7.4f} {sec:6.1f}")
    crowd = {k: v for k, v in results.items() if k.startswith(("crowd", "Raykar", "bias"))}
    best = max(crowd, key=crowd.get)
    ceiling = results["true ratings (ceiling)"]
    print(f"\nbest crowd row: {best} ({crowd[best]:.4f}); ceiling {ceiling:.4f} "
          f"(gap {ceiling - crowd[best]:.4f}); mean {results['mean of answers']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
