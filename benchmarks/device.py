"""Aggregation on torch tensors (``device=``) against the numpy path, at 1M answers (and more).

For each strategy with a torch path, on the speed crowd of ``aggregation.py`` (n_answers / 5
tasks x 5 answers, n_answers / 500 workers: 3/4 one-coin, 1/5 diagonal, the rest spammers,
5 classes): fit time on numpy, on torch CPU and, when torch sees a GPU, on CUDA (best of
``--repeat`` fits each, after one warm-up fit that pays torch's import and CUDA's start), the
iterations, and the largest difference of the posteriors from the numpy run.

    python benchmarks/device.py [--answers 1000000 ...] [--strategies ds ...] [--repeat 2]
                                [--no-numpy]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from crowdlearn.aggregate import make_strategy
from crowdlearn.aggregate._device import TORCH_STRATEGIES
from crowdlearn.simulate import simulate


def crowd(n_answers: int, seed: int = 0):
    n_tasks, n_w = n_answers // 5, max(n_answers // 500, 10)
    groups = [("one-coin", n_w * 3 // 4), ("diagonal", n_w // 5),
              ("spammer", n_w - n_w * 3 // 4 - n_w // 5)]
    return simulate(n_tasks, 5, workers=groups, answers_per_task=5, seed=seed).answers


def timed(name: str, answers, device: str | None, repeat: int):
    import torch

    best, est = np.inf, None
    for _ in range(repeat):
        est = make_strategy(name, device=device)
        t0 = time.perf_counter()
        est.fit(answers)
        if device is not None and device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, est


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--answers", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--strategies", nargs="+", default=list(TORCH_STRATEGIES))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-numpy", action="store_true", help="skip numpy (large sizes on GPU)")
    args = ap.parse_args()
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    warm = crowd(10_000)
    for d in devices:  # torch import, CUDA context
        make_strategy("ds", device=d).fit(warm)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, devices: "
          f"{', '.join(devices)}{'' if 'cuda' in devices else ' (no GPU here: not measured)'}")
    head = ["answers", "strategy", "iters", "numpy s"] + [f"torch-{d} s" for d in devices] + \
        [f"max |dp| {d}" for d in devices]
    rows = []
    for n in args.answers:
        a = crowd(n)
        for name in args.strategies:
            row = [f"{n:,}", name]
            ref = None
            if not args.no_numpy:
                t_np, ref = timed(name, a, None, args.repeat)
            row += [str(ref.n_iter_ if ref is not None else "")]
            row += [f"{t_np:.3f}" if ref is not None else "-"]
            diffs = []
            for d in devices:
                t_d, est = timed(name, a, d, args.repeat)
                row.append(f"{t_d:.3f}")
                diffs.append("-" if ref is None else
                             f"{np.abs(est.probas_ - ref.probas_).max():.1e}")
                if ref is None:
                    row[2] = str(est.n_iter_)
            rows.append(row + diffs)
            print(" | ".join(rows[-1]), flush=True)
    print()
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    for r in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
