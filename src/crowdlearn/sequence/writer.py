"""Writing aggregated tag sequences in the input's layout, atomically.

``OUT/<doc>.txt`` holds one ``token tag`` line per token and a blank line after each sentence
(the CoNLL layout of the input; tokens of sentences no worker tagged are ``O``),
``OUT/workers.csv`` the per-worker quality (:func:`crowdlearn.sequence.aggregate.worker_table`)
and ``OUT/summary.json`` the strategy, its parameters, sizes, the alignment report and, when gold
tags are known, the span scores. The folder is built aside and swapped in at the end
(:func:`crowdlearn.io._atomic.atomic_dir`): a failed run leaves the previous folder untouched.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .data import SequenceAnswers


def write_conll(folder: Path, seq: SequenceAnswers, labels: np.ndarray) -> list[Path]:
    """``folder/<doc>.txt`` for every document of ``seq`` with the tags ``labels`` (per token,
    ``-1`` as ``O``)."""
    tags = seq.sentence_tags(labels)
    lines: dict[int, list[str]] = {}
    for s, sent in enumerate(tags):
        a = seq.sentence_indptr[s]
        out = lines.setdefault(int(seq.sentence_doc[s]), [])
        out += [f"{seq.words[a + i]} {t}" for i, t in enumerate(sent)]
        out.append("")
    paths = []
    for d, doc in enumerate(seq.doc_ids):
        p = folder / f"{doc}.txt"
        p.write_text("\n".join(lines.get(d, [])) + ("\n" if d in lines else ""),
                     encoding="utf-8")
        paths.append(p)
    return paths


def write_sequence_results(out_dir: str | os.PathLike[str], seq: SequenceAnswers, est: Any,
                           strategy: str, scores: dict[str, Any] | None = None) -> Path:
    """Write the documents, ``workers.csv`` and ``summary.json`` of a fitted aggregator."""
    from ..io._atomic import atomic_dir
    from .aggregate import worker_table

    rows = worker_table(est, seq)
    summary = {
        "kind": "sequence", "strategy": strategy, "parameters": _plain(est.get_params()),
        "dataset": seq.name, "documents": seq.n_docs, "sentences": seq.n_sentences,
        "tokens": seq.n_tokens, "workers": seq.n_workers, "tags": [str(t) for t in seq.tags],
        "token_answers": seq.tokens.n_answers, "n_iter": int(getattr(est, "n_iter_", 0)),
        "seconds": round(float(getattr(est, "fit_seconds_", 0.0)), 4),
        "sentences_without_answers": int((seq.workers_per_sentence() == 0).sum()),
        "alignment": seq.alignment.as_dict(),
    }
    if scores is not None:
        summary["scores"] = scores
    with atomic_dir(out_dir) as tmp:
        write_conll(tmp, seq, est.labels_)
        fields = list(rows[0]) if rows else ["worker"]
        with open(tmp / "workers.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: "" if v is None else (round(v, 6) if isinstance(v, float)
                                                           else v) for k, v in r.items()})
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                          encoding="utf-8")
    return Path(out_dir)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
            for k, v in params.items()}
