"""The ``--kind sequence`` branches of ``aggregate``, ``info`` and ``simulate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_sequence_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the sequence reader (and ``--kind``)."""
    from ..kinds import add_kind_argument

    add_kind_argument(p)
    g = p.add_argument_group("tag sequences (--kind sequence)")
    g.add_argument("--gold-dir", default=None, metavar="NAME",
                   help="gold folder inside a sequence folder (default: ground_truth, or gold)")
    g.add_argument("--workers-dir", default=None, metavar="NAME",
                   help="per-worker folder inside a sequence folder (default: "
                   "mturk_train_data, or workers)")
    g.add_argument("--align", choices=("text", "length"), default="text",
                   help="keep a worker sentence when its text matches the reference sentence "
                   "(re-tokenised sentences included), or when only its length does")


def is_sequence(args: argparse.Namespace, positional: str = "data") -> bool:
    """Whether the command works on tag sequences (``--kind``, else detected)."""
    from ..kinds import answer_kind

    kind = getattr(args, "kind", None)
    if kind not in (None, "sequence"):
        return False
    return answer_kind(getattr(args, positional), kind, **_layout(args)) == "sequence"


def _layout(args: argparse.Namespace) -> dict[str, Any]:
    return {"gold_dir": getattr(args, "gold_dir", None),
            "workers_dir": getattr(args, "workers_dir", None)}


def load(args: argparse.Namespace, positional: str = "data") -> Any:
    from ..sequence import read_sequences

    return read_sequences(getattr(args, positional), align=getattr(args, "align", "text"),
                          **_layout(args))


def run_aggregate(args: argparse.Namespace, out_dir: Path) -> int:
    """``crowdlearn aggregate ROOT --kind sequence``."""
    from ..errors import CrowdlearnError
    from ..sequence.aggregate import make_sequence_strategy
    from ..sequence.metrics import evaluate
    from ..sequence.writer import write_sequence_results

    for flag, value in (("--gold", args.gold), ("--truth", args.truth)):
        if value:
            raise CrowdlearnError(f"{flag} is not available for tag sequences: gold tags come "
                                  "from the folder's gold files (--gold-dir)")
    seq = load(args)
    from ._common import parse_params

    est = make_sequence_strategy(args.strategy, **parse_params(args.param))
    est.fit(seq)
    scores = evaluate(seq, est.labels_) if seq.has_truth else None
    write_sequence_results(out_dir, seq, est, est.name, scores)
    if not args.quiet:
        print(seq.alignment.summary())
        line = (f"{est.name}: {seq.n_sentences} sentences, {seq.n_tokens} tokens, "
                f"{seq.tokens.n_answers} token answers, {getattr(est, 'n_iter_', 0)} "
                f"iterations, {est.fit_seconds_:.2f} s")
        if scores is not None:
            line += (f", span F1 {100 * scores['f1']:.2f} (P {100 * scores['precision']:.2f}, "
                     f"R {100 * scores['recall']:.2f}) on {scores['sentences']} gold sentences")
        print(line)
        print(f"wrote {seq.n_docs} documents, workers.csv and summary.json to {out_dir}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    """``crowdlearn info ROOT`` for a sequence folder."""
    seq = load(args, "path")
    s = seq.summary()
    s["path"] = str(args.path)
    if args.json:
        print(json.dumps(s, indent=2, ensure_ascii=False))
        return 0
    a = s["alignment"]
    print(f"{args.path}: tag sequences (CoNLL folder, reference sentences: {a['reference']})")
    print(f"  documents {s['documents']}, sentences {s['sentences']}, tokens {s['tokens']}, "
          f"workers {s['workers']}")
    print(f"  tags ({len(s['tags'])}): {', '.join(s['tags'])}")
    print(f"  worker sentences: {a['aligned'] + a['unaligned']} read, {a['aligned']} aligned "
          f"({a['exact']} exact, {a['annotated']} after removing pasted tags, "
          f"{a['retokenised']} re-tokenised, {a['length_only']} by length only), "
          f"{a['unaligned']} not aligned")
    print(f"  token answers {s['token_answers']}; workers per sentence "
          f"{s['workers_per_sentence_mean']:.2f} on average; {s['sentences_without_answers']} "
          "sentences no worker tagged")
    print(f"  gold sentences {s['gold_sentences']}")
    for w, d, i, why in seq.alignment.unaligned_items[:5]:
        print(f"  not aligned: worker {w}, document {d}, sentence {i}: {why}")
    if a["unaligned"] > 5:
        print(f"  ... and {a['unaligned'] - 5} more (--json lists up to 50)")
    return 0


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    """``simulate --kind sequence`` options."""
    g = p.add_argument_group("tag sequences (--kind sequence)")
    g.add_argument("--n-docs", type=int, default=20, help="documents")
    g.add_argument("--sentences-per-doc", type=int, default=10, help="sentences per document")
    g.add_argument("--workers-per-doc", type=int, default=3, help="workers tagging a document")
    for name, default in (("miss", "0.05,0.3"), ("confuse", "0.0,0.2"),
                          ("boundary", "0.0,0.2"), ("false-positive", "0.0,0.02")):
        g.add_argument(f"--{name}", default=default, metavar="LOW,HIGH",
                       help=f"range of the workers' {name.replace('-', ' ')} rates")


def run_simulate(args: argparse.Namespace) -> int:
    """``crowdlearn simulate --kind sequence``."""
    from ..errors import CrowdlearnError
    from ..sequence.simulate import simulate_sequences, write_simulated

    def rng(text: str, flag: str) -> tuple[float, float]:
        try:
            lo, hi = (float(x) for x in text.split(","))
        except ValueError:
            raise CrowdlearnError(f"{flag} must be LOW,HIGH, got {text!r}") from None
        return lo, hi

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise CrowdlearnError(f"{out}: folder exists and is not empty (use --force to replace it)")
    sim = simulate_sequences(
        n_docs=args.n_docs, sentences_per_doc=args.sentences_per_doc,
        n_workers=10 if args.n_workers is None else args.n_workers,
        workers_per_doc=args.workers_per_doc, miss=rng(args.miss, "--miss"),
        confuse=rng(args.confuse, "--confuse"), boundary=rng(args.boundary, "--boundary"),
        false_positive=rng(args.false_positive, "--false-positive"), seed=args.seed)
    write_simulated(out, sim)
    if not args.quiet:
        print(f"{sim.answers!r} -> {out} (ground_truth/, mturk_train_data/, simulation.json)")
    return 0
