"""Taggers learnt from crowd tags on ner-mturk, by document cross-validation (issue 14).

For each fold (documents split into ``--folds`` groups), a :class:`crowdlearn.sequence.CrowdTagger`
is trained on the crowd answers of the other documents only (its epoch chosen on the crowd answers
of held-out training documents, never on gold), then tags every sentence of the fold's documents.
The concatenated predictions are scored against the gold tags by exact-span F1 over all gold
sentences. Rows: the tagger trained on token majority-vote tags, on Dawid-Skene tags, and end to
end with the sequence crowd layer (Rodrigues & Pereira, AAAI 2018).

``tagger_rows(seq)`` is what ``benchmarks/sequences.py`` calls; run alone::

    CROWDLEARN_DATA=/path/to/shared/data OMP_NUM_THREADS=1 python benchmarks/sequence_taggers.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: epoch cap of every tagger; each stops once the loss on the crowd tags of its held-out
#: training documents has not improved for PATIENCE epochs and keeps its best epoch (on one
#: fold the held-out crowd loss bottomed at epoch 34 (crowd layer) and 32 (MV): 12 was too few)
N_EPOCHS = 60
PATIENCE = 5

STRATEGIES = {"crowdlayer": "tagger + crowd layer (MW)", "mv": "tagger on token MV",
              "ds": "tagger on token DS"}


def cross_validated_labels(seq: Any, strategy: str, *, folds: int = 5, seed: int = 0,
                           **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-token tag indices of every sentence of ``seq``, each predicted by a tagger that never
    saw the answers (nor the gold) of its document; plus the per-fold best epochs."""
    from crowdlearn.sequence import CrowdTagger

    docs = np.random.default_rng(seed).permutation(seq.n_docs)
    labels = np.full(seq.n_tokens, -1, dtype=np.int64)
    tag_index = {str(t): i for i, t in enumerate(seq.tags)}
    epochs, stopped = [], []
    for f in range(folds):
        held = np.isin(seq.sentence_doc, docs[f::folds])
        train = seq.select_sentences(np.flatnonzero(~held))
        test = seq.select_sentences(np.flatnonzero(held))
        tagger = CrowdTagger(strategy, seed=seed, **params).fit(train)
        pred = tagger.predict(test)
        tokens = np.concatenate([np.arange(seq.sentence_indptr[s], seq.sentence_indptr[s + 1])
                                 for s in np.flatnonzero(held)])
        labels[tokens] = [tag_index[t] for s in pred for t in s]
        epochs.append(tagger.result_.best_epoch)
        stopped.append(tagger.result_.stopped_epoch)
    return labels, {"best_epochs": epochs, "stopped_epochs": stopped}


def tagger_rows(seq: Any, *, strategies: tuple[str, ...] = tuple(STRATEGIES), folds: int = 5,
                seed: int = 0, **params: Any) -> list[dict[str, Any]]:
    """One row per strategy: span precision, recall, F1 (percent) and seconds."""
    rows = []
    for strategy in strategies:
        start = time.perf_counter()
        labels, info = cross_validated_labels(seq, strategy, folds=folds, seed=seed, **params)
        from crowdlearn.sequence import evaluate

        score = evaluate(seq, labels)
        rows.append({"method": STRATEGIES.get(strategy, f"tagger on {strategy}"),
                     "precision": 100 * score["precision"], "recall": 100 * score["recall"],
                     "f1": 100 * score["f1"], "seconds": time.perf_counter() - start,
                     "best_epochs": info["best_epochs"],
                     "stopped_epochs": info["stopped_epochs"]})
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'tagger (document CV)':32s} {'P':>6s} {'R':>6s} {'F1':>6s} {'s':>6s}  best epochs"
          "  (stopped at)")
    for r in rows:
        print(f"{r['method']:32s} {r['precision']:6.1f} {r['recall']:6.1f} {r['f1']:6.1f} "
              f"{r['seconds']:6.0f}  {r['best_epochs']}  ({r.get('stopped_epochs', '-')})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="ner-mturk/val folder (default: "
                   "$CROWDLEARN_DATA/ner-mturk/val)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    p.add_argument("--n-epochs", type=int, default=N_EPOCHS)
    p.add_argument("--patience", type=int, default=PATIENCE)
    p.add_argument("--json", default=None, help="also write the rows as JSON")
    p.add_argument("--head-lr", type=float, default=None,
                   help="crowd layer learning rate (default: CrowdTagger's)")
    args = p.parse_args(argv)
    root = args.data or (Path(os.environ.get("CROWDLEARN_DATA", "")) / "ner-mturk" / "val")
    if not Path(root).is_dir():
        print(f"no data at {root}: set CROWDLEARN_DATA or --data", file=sys.stderr)
        return 2
    from crowdlearn.sequence import read_sequences

    seq = read_sequences(root)
    print(seq.alignment.summary())
    rows = []
    for strategy in args.strategies:
        rows += tagger_rows(seq, strategies=(strategy,), folds=args.folds, seed=args.seed,
                            n_epochs=args.n_epochs, patience=args.patience,
                            head_lr=args.head_lr, device="cpu")
        print(f"{rows[-1]['method']}: F1 {rows[-1]['f1']:.1f}", flush=True)
    print_rows(rows)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
