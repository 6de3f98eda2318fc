"""A CIFAR-10-sized run of the CCEM family and Annot-Mix: throughput and accuracy (issue 16).

The real CIFAR-10 cannot be downloaded here, so by default the images are synthetic: 32 x 32 x 3
``uint8`` images of 10 classes (each class a smooth random colour pattern, every image that pattern
shifted by up to 4 pixels, mixed with another class's pattern and pixel noise), written as the
CIFAR-10 python batches (``data_batch_1..5``, ``test_batch``, ``batches.meta``) and run through
the ``cifar10-synthetic`` protocol (:func:`crowdlearn.datasets.protocols.run_experiment`:
simulated separable-and-uniform annotators, ResNet-9, batch 400, Adam with one-cycle, the CIFAR
augmentation on the device, AMP on CUDA). ``--data cifar-10-batches-py/`` runs the real images.

    python benchmarks/cifar_sized.py                          # 50,000 + 10,000 images, 10 epochs
    python benchmarks/cifar_sized.py --n-train 2000 --n-test 500 --epochs 1   # CPU smoke test
    python benchmarks/cifar_sized.py --strategies ccem annot-mix --epochs 20 --json out.json

Printed per strategy: device, AMP, epochs per second of training (the fit's training loop, data
already on the device), the whole fit's seconds, the final test accuracy and the error of the
estimated confusions (mean absolute difference from the simulated ones, where the head has them).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STRATEGIES = ["ccem", "geocrowdnet-f", "geocrowdnet-w", "annot-mix"]


def synthetic_cifar(folder: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Write synthetic CIFAR-10 python batches into ``folder/cifar-10-batches-py``."""
    rng = np.random.default_rng(seed)
    n_classes, size = 10, 32
    # one smooth pattern per class: 4 x 4 x 3 noise upsampled to 32 x 32
    coarse = rng.normal(size=(n_classes, 3, 4, 4))
    templates = np.repeat(np.repeat(coarse, 8, axis=2), 8, axis=3)

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, n_classes, size=n)
        other = (y + rng.integers(1, n_classes, size=n)) % n_classes
        out = np.empty((n, 3, size, size), dtype=np.uint8)
        for start in range(0, n, 5000):  # in chunks: bounded memory
            sl = slice(start, min(start + 5000, n))
            m = sl.stop - sl.start
            img = templates[y[sl]] + 0.6 * templates[other[sl]]
            dx, dy = rng.integers(-4, 5, size=(2, m))
            for i in range(m):  # one roll per image (cheap at 60,000 images)
                img[i] = np.roll(img[i], (dy[i], dx[i]), axis=(1, 2))
            img += rng.normal(scale=0.8, size=img.shape)
            out[sl] = np.clip(128 + 40 * img, 0, 255).astype(np.uint8)
        return out.reshape(n, -1), y

    root = folder / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    x, y = images(n_train)
    for b, part in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        with open(root / f"data_batch_{b}", "wb") as f:
            pickle.dump({"data": x[part], "labels": y[part].tolist()}, f, protocol=2)
    x, y = images(n_test)
    with open(root / "test_batch", "wb") as f:
        pickle.dump({"data": x, "labels": y.tolist()}, f, protocol=2)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{k}" for k in range(n_classes)]}, f, protocol=2)
    return root


def run(strategy: str, data: Path, args: argparse.Namespace) -> dict:
    import torch

    from crowdlearn.datasets.protocols import run_experiment

    t0 = time.perf_counter()
    clf, summary = run_experiment(
        "cifar10-synthetic", data=data, strategy=strategy, n_epochs=args.epochs,
        n_workers=args.workers, seed=args.seed, device=args.device, verbose=False)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    train_s = float(clf.train_result_.seconds)
    device = str(clf.device_)
    # the training loop turns AMP on where it applies: CUDA, unless amp=False
    return {"strategy": strategy, "device": device,
            "amp": bool(clf.amp) and device.startswith("cuda"),
            "epochs": args.epochs, "epochs_per_s": args.epochs / train_s,
            "train_s": train_s, "seconds": seconds,
            "accuracy": summary.get("final_test_accuracy"),
            "confusion_error": summary.get("confusion_error")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strategies", nargs="+", default=STRATEGIES)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--n-train", type=int, default=50_000)
    ap.add_argument("--n-test", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=5, help="simulated annotators")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="default: CUDA when present, else the CPU")
    ap.add_argument("--data", type=Path, default=None,
                    help="a real cifar-10-batches-py folder instead of synthetic images")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = ap.parse_args(argv)

    import torch

    rows = []
    with tempfile.TemporaryDirectory(prefix="crowdlearn-cifar-") as tmp:
        data = args.data or synthetic_cifar(Path(tmp), args.n_train, args.n_test, args.seed)
        source = str(args.data) if args.data else (
            f"synthetic 32x32, {args.n_train} train + {args.n_test} test images")
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        print(f"{source}; torch {torch.__version__}; "
              f"{gpu or 'no GPU here: CPU numbers only, the GPU throughput is not measured'}",
              flush=True)
        for s in args.strategies:
            rows.append(run(s, data, args))
            r = rows[-1]
            print(f"  {s}: {r['epochs_per_s']:.3f} epochs/s, acc {r['accuracy']:.4f}",
                  file=sys.stderr, flush=True)
    print("\n| strategy | device | AMP | epochs | epochs/s | train s | fit s | test acc "
          "| confusion err |\n|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        err = "-" if r["confusion_error"] is None else f"{r['confusion_error']:.3f}"
        print(f"| {r['strategy']} | {r['device']} | {'on' if r['amp'] else 'off'} "
              f"| {r['epochs']} | {r['epochs_per_s']:.3f} | {r['train_s']:.1f} "
              f"| {r['seconds']:.1f} | {r['accuracy']:.4f} | {err} |")
    if args.json:
        args.json.write_text(json.dumps({"source": source, "gpu": gpu, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
