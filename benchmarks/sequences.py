"""Sequence-labelling benchmark: crowd NER tags of CoNLL-2003 news (ner-mturk/val).

Run from the repository root with ``CROWDLEARN_DATA`` pointing at the data root (the folder
holding ``ner-mturk/``)::

    OMP_NUM_THREADS=1 python benchmarks/sequences.py            # every row (~3 minutes)
    python benchmarks/sequences.py --rows mv ds hmm-crowd       # some rows
    python benchmarks/sequences.py --json out.json

Every aggregator reads the answers with :func:`crowdlearn.sequence.read_sequences` (worker
sentences aligned to the gold sentences by text, re-tokenised ones included; the alignment line
is printed) and is scored by exact-span F1 / precision / recall (CoNLL definition,
:func:`crowdlearn.sequence.metrics.evaluate`) over all gold sentences; a sentence no worker
tagged predicts no entity. Gold tags only score: every row runs with its fixed defaults (no
parameter was fitted to the gold tags). ``mv (length rule)`` uses the data README's alignment
(equal-length sentences only) for comparison with its figure (64.5); our MV breaks ties by a
seeded draw, the README's figure by another rule, so the two differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# (row name, strategy spec, alignment)
AGGREGATORS: list[tuple[str, str, str]] = [
    ("mv (length rule)", "mv", "length"),
    ("mv", "mv", "text"),
    ("ds", "ds", "text"),
    ("ibcc", "ibcc", "text"),
    ("pooled-ds", "pooled-ds", "text"),
    ("hmm-crowd[confusion=full,words=false]", "hmm-crowd[confusion=full,words=false]", "text"),
    ("hmm-crowd[confusion=seq,words=false]", "hmm-crowd[confusion=seq,words=false]", "text"),
    ("hmm-crowd[confusion=full,words=true]", "hmm-crowd[confusion=full,words=true]", "text"),
    ("hmm-crowd (default: seq, words)", "hmm-crowd", "text"),
]

# ============================================================================ TAGGER ROWS
# Rows of the deep taggers (branch h-seqdeep: the crowd-layer tagger, and the same tagger trained
# on MV and on DS labels, by document cross-validation) are added here, as functions
# ``(SequenceAnswers) -> per-token tag indices`` scored the same way:
def _tagger(strategy: str) -> Any:
    def predict(seq: Any) -> Any:
        from sequence_taggers import N_EPOCHS, PATIENCE, cross_validated_labels

        return cross_validated_labels(seq, strategy, n_epochs=N_EPOCHS, patience=PATIENCE,
                                      device="cpu")[0]

    return predict


TAGGERS: list[tuple[str, Any]] = [
    ("tagger on mv (5-fold document CV)", _tagger("mv")),
    ("tagger on ds (5-fold document CV)", _tagger("ds")),
    ("tagger + crowd layer (5-fold document CV)", _tagger("crowdlayer")),
]
# ============================================================================


def _data_root(arg: str | None) -> Path:
    root = Path(arg or os.environ.get("CROWDLEARN_DATA", "")) / "ner-mturk" / "val"
    if not root.is_dir():
        sys.exit(f"no ner-mturk/val under {root.parent.parent} (set CROWDLEARN_DATA or --data)")
    return root


def run(rows: list[str] | None, data: str | None) -> list[dict[str, Any]]:
    from crowdlearn.sequence import read_sequences
    from crowdlearn.sequence.aggregate import make_sequence_strategy
    from crowdlearn.sequence.metrics import evaluate

    root = _data_root(data)
    cache: dict[str, Any] = {}
    out = []
    for name, spec, align in AGGREGATORS:
        if rows and name.split("[")[0].split(" ")[0] not in rows and name not in rows:
            continue
        if align not in cache:
            cache[align] = read_sequences(root, align=align)
            print(f"[{align}] {cache[align].alignment.summary()}", flush=True)
        seq = cache[align]
        t0 = time.perf_counter()
        est = make_sequence_strategy(spec).fit(seq)
        secs = time.perf_counter() - t0
        s = evaluate(seq, est.labels_)
        out.append({"row": name, "f1": 100 * s["f1"], "precision": 100 * s["precision"],
                    "recall": 100 * s["recall"], "iterations": int(getattr(est, "n_iter_", 0)),
                    "seconds": secs, "sentences": s["sentences"], "engine": s["engine"]})
        print(f"  {name}: F1 {out[-1]['f1']:.2f}", flush=True)
    for name, predict in TAGGERS:  # minutes each: only when asked (--rows tagger, or none)
        if rows and "tagger" not in rows and name not in rows:
            continue
        seq = cache.get("text") or read_sequences(root)
        t0 = time.perf_counter()
        s = evaluate(seq, predict(seq))
        out.append({"row": name, "f1": 100 * s["f1"], "precision": 100 * s["precision"],
                    "recall": 100 * s["recall"], "iterations": 0,
                    "seconds": time.perf_counter() - t0, "sentences": s["sentences"],
                    "engine": s["engine"]})
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'row':<42} {'F1':>6} {'P':>6} {'R':>6} {'iter':>5} {'seconds':>8}",
             "-" * 78]
    for r in results:
        lines.append(f"{r['row']:<42} {r['f1']:6.2f} {r['precision']:6.2f} {r['recall']:6.2f} "
                     f"{r['iterations']:5d} {r['seconds']:8.1f}")
    by = {r["row"]: r["f1"] for r in results}
    best = max(results, key=lambda r: r["f1"]) if results else None
    if best is not None:
        lines.append(f"best aggregator: {best['row']} {best['f1']:.2f} (target >= 74)")
    seq_rows = [v for k, v in by.items() if k.startswith("hmm-crowd")]
    if seq_rows and "ds" in by:
        ok = max(seq_rows) > by["ds"]
        lines.append(f"best sequence-aware model {max(seq_rows):.2f} vs token DS {by['ds']:.2f}: "
                     f"{'above' if ok else 'NOT above'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", nargs="*", default=None,
                    help="rows to run (names as in the table, or their first word)")
    ap.add_argument("--data", default=None, help="data root (default $CROWDLEARN_DATA)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    results = run(args.rows, args.data)
    print()
    print(f"ner-mturk/val: exact-span scores over all {results[0]['sentences'] if results else 0}"
          f" gold sentences (engine: {results[0]['engine'] if results else '-'})")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
