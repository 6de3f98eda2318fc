"""``crowdlearn fit ROOT --kind sequence``: a tagger learnt from crowd tag sequences.

ROOT is a CoNLL-style crowd folder (:func:`crowdlearn.sequence.read_sequences`). The tagger is
:class:`crowdlearn.sequence.CrowdTagger` (``-s crowdlayer``, or ``-s mv`` / ``ds`` / any label
strategy for two-stage training). Writes ``OUT/<doc>.txt`` (every sentence of every document
tagged by the tagger, in the input's layout: ``token tag`` lines, a blank line after each
sentence) and ``results.json`` (settings, epochs, losses, the alignment report and, when the
folder has gold tags, the span scores of the tags written against them: these are the training
sentences, so not a held-out score).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from .. import deep_defaults as D

#: CrowdTagger's settings where ``fit``'s options keep their classification defaults
SEQUENCE_DEFAULTS = {"n_epochs": 60, "batch_size": 32, "lr": 2e-3}  # epochs: a cap, --patience 5


def is_sequence_input(args: argparse.Namespace) -> bool:
    """``--kind sequence``, or ROOT a CoNLL crowd folder and no ``--kind``."""
    kind = getattr(args, "kind", None)
    if kind is not None:
        return str(kind).lower() == "sequence"
    from ..sequence import find_layout

    root = Path(str(args.data))
    return root.is_dir() and find_layout(root) is not None


def _setting(args: argparse.Namespace, name: str, classification_default: Any) -> Any:
    value = getattr(args, name)
    return SEQUENCE_DEFAULTS[name] if value == classification_default else value


def run_sequence(args: argparse.Namespace, check_out: Any) -> int:
    """Read ROOT, fit the tagger, write the tagged documents and results.json."""
    from ..errors import CrowdlearnError
    from ..sequence import read_sequences

    start = time.perf_counter()
    out = Path(args.out)
    check_out(out, args.force)
    strategy = (args.strategy or "crowdlayer").strip()
    if "[" in strategy:
        raise CrowdlearnError(f"-s {strategy!r}: sequence strategies take no bracket "
                              "parameters (crowdlayer, or a label strategy such as mv or ds)")
    seq = read_sequences(args.data)
    if seq.tokens.n_answers == 0:
        raise CrowdlearnError(f"{args.data}: no worker tags to learn from")
    from ..sequence import CrowdTagger

    tagger = CrowdTagger(
        strategy, n_epochs=_setting(args, "n_epochs", D.N_EPOCHS),
        batch_size=_setting(args, "batch_size", D.BATCH_SIZE), lr=_setting(args, "lr", D.LR),
        head_lr=args.head_lr, val_fraction=args.val_fraction,
        patience=5 if args.patience is None else args.patience, device=args.accelerator,
        amp=args.amp, seed=args.seed, verbose=not (args.no_progress or args.quiet),
        threads="auto" if args.threads is None else args.threads)
    tagger.fit(seq)
    proba = tagger.predict_proba(seq)
    import numpy as np

    from ..sequence import evaluate, write_conll

    labels = np.concatenate([p.argmax(axis=1) for p in proba]) if proba else \
        np.zeros(0, dtype=np.int64)
    out.mkdir(parents=True, exist_ok=True)
    docs = write_conll(out, seq, labels)
    scores = evaluate(seq, labels) if seq.gold_sentences.any() else None
    res = tagger.result_
    summary: dict[str, Any] = {
        "kind": "sequence", "strategy": strategy, "dataset": seq.name,
        "n_documents": int(seq.n_docs), "n_sentences": int(seq.n_sentences),
        "n_tokens": int(seq.n_tokens), "n_workers": int(seq.n_workers),
        "n_answers": int(seq.tokens.n_answers), "tags": [str(t) for t in seq.tags],
        "alignment": seq.alignment.as_dict(), "device": str(tagger.device_),
        "seed": args.seed, "best_epoch": res.best_epoch, "stopped_epoch": res.stopped_epoch,
        "selection": res.config.get("selection"), "history": res.history,
        "train_seconds": res.seconds, "files": [p.name for p in docs],
        "span_scores_on_training_gold": scores,
        "inputs": {"answers": str(args.data)},
    }
    from ..io._atomic import atomic_write

    with atomic_write(out / "results.json", "w") as f:
        json.dump(summary, f, indent=2)
    if not args.quiet:
        score = summary["span_scores_on_training_gold"]
        lines = [f"strategy  {strategy} (BiLSTM tagger, {tagger.device_})",
                 f"data      {seq.n_docs} documents, {seq.n_sentences:,} sentences, "
                 f"{seq.n_workers} workers, {seq.tokens.n_answers:,} token answers",
                 f"epochs    best {res.best_epoch} of {res.stopped_epoch} "
                 f"(selection {summary['selection']})"]
        if score is not None:
            lines.append(f"span F1   {100 * score['f1']:.1f} on the {score['sentences']:,} "
                         "gold sentences (training data)")
        lines.append(f"time      {time.perf_counter() - start:.1f} s")
        lines.append(f"output    {out} ({len(docs)} documents, results.json)")
        print("\n".join(lines))
    return 0
