"""Label-free choice of the sequence aggregator: held-out answer likelihood (issue 14 review).

Two parts, both print a table:

* ``--part real``: on ``ner-mturk/val``, a share of each worker's tagged sentences is held out
  (seeded splits), every candidate is fitted on the remaining answers and scores the held-out tag
  sequences (:mod:`crowdlearn.sequence.heldout`); mean log-likelihood per held-out answer. Gold
  tags are not read.
* ``--part simulated``: crowds drawn from a known HMM (:func:`crowdlearn.sequence.simulate_hmm.
  simulate_hmm_crowd`) whose worker structure is the plain confusion (``full``) or the
  sequential one (``seq``) and whose words carry no signal (0) or some (0.5); for each, every
  candidate's held-out likelihood and span F1 against the simulated truth, the candidate the
  criterion picks and the best one by F1.

Run from the repository root::

    CROWDLEARN_DATA=/path/to/shared/data OMP_NUM_THREADS=1 python benchmarks/sequence_selection.py
    python benchmarks/sequence_selection.py --part simulated --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

#: the four HMM variants (worker model x word emissions); hmm-crowd alone is the default
HMM_VARIANTS = ["hmm-crowd[confusion=full,words=false]", "hmm-crowd[confusion=seq,words=false]",
                "hmm-crowd[confusion=full,words=true]", "hmm-crowd"]
#: a token-level reference with strictly positive confusions (ds's can be zero: -inf)
REFERENCES = ["ibcc"]


def real(data: str | None, seeds: list[int], share: float) -> list[dict[str, Any]]:
    from crowdlearn.sequence import read_sequences
    from crowdlearn.sequence.heldout import compare_heldout

    root = Path(data or os.environ.get("CROWDLEARN_DATA", "")) / "ner-mturk" / "val"
    if not root.is_dir():
        sys.exit(f"no ner-mturk/val under {root.parent.parent} (set CROWDLEARN_DATA or --data)")
    seq = read_sequences(root)
    rows = compare_heldout(REFERENCES + HMM_VARIANTS, seq, share=share, seeds=tuple(seeds))
    print(f"ner-mturk/val: {share:.0%} of each worker's sentences held out, seeds {seeds}, "
          f"{rows[0]['held_answers']} held-out token answers")
    print(f"{'model':42s} {'loglik/answer':>13s}  per seed{'':22s} iterations  s/fit")
    for r in rows:
        print(f"{r['spec']:42s} {r['loglik']:13.5f}  "
              f"{' '.join(f'{v:.5f}' for v in r['per_seed']):30s} {r['iterations']}  "
              f"{r['seconds']:.1f}")
    best = max(rows, key=lambda r: r["loglik"])
    print(f"highest held-out likelihood: {best['spec']}")
    return rows


def simulated(seeds: list[int], n_sentences: int, share: float) -> list[dict[str, Any]]:
    from crowdlearn.sequence import evaluate, make_sequence_strategy
    from crowdlearn.sequence.heldout import compare_heldout
    from crowdlearn.sequence.simulate_hmm import simulate_hmm_crowd

    out = []
    names = {s: s.replace("hmm-crowd", "h").replace("confusion=", "") for s in HMM_VARIANTS}
    names["hmm-crowd"] = "h (default)"
    print(f"{'truth':12s} {'seed':>4s}  " + "  ".join(f"{names[s]:>22s}" for s in HMM_VARIANTS)
          + "  picked / best F1")
    for structure in ("full", "seq"):
        for signal in (0.0, 0.5):
            for seed in seeds:
                sim = simulate_hmm_crowd(n_sentences=n_sentences, structure=structure,
                                         word_signal=signal, seed=seed)
                rows = compare_heldout(HMM_VARIANTS, sim.answers, share=share, seeds=(seed,))
                f1 = {s: 100 * evaluate(sim.answers, make_sequence_strategy(s).fit(
                    sim.answers).labels_)["f1"] for s in HMM_VARIANTS}
                pick = max(rows, key=lambda r: r["loglik"])["spec"]
                best = max(f1, key=f1.get)
                cells = "  ".join(f"{r['loglik']:8.4f} F1 {f1[r['spec']]:5.1f}  " for r in rows)
                print(f"{structure + ' w' + str(signal):12s} {seed:4d}  {cells}  "
                      f"{names[pick]} {f1[pick]:.1f} / {names[best]} {f1[best]:.1f}",
                      flush=True)
                out.append({"structure": structure, "word_signal": signal, "seed": seed,
                            "loglik": {r["spec"]: r["loglik"] for r in rows}, "f1": f1,
                            "picked": pick, "best_f1": best})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("real", "simulated", "both"), default="both")
    ap.add_argument("--data", default=None, help="data root (default $CROWDLEARN_DATA)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--share", type=float, default=0.2,
                    help="share of each worker's sentences held out (default 0.2)")
    ap.add_argument("--n-sentences", type=int, default=300, help="simulated crowd size")
    ap.add_argument("--json", default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    res: dict[str, Any] = {}
    if args.part in ("real", "both"):
        res["real"] = real(args.data, args.seeds, args.share)
    if args.part in ("simulated", "both"):
        res["simulated"] = simulated(args.seeds, args.n_sentences, args.share)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
