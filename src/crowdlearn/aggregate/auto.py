"""Choosing an aggregation strategy without ground truth: held-out answer likelihood.

No truth-inference strategy wins on every data set (Zheng et al. 2017), and the truth that would
tell them apart is what a user does not have. :class:`AutoAggregator` therefore compares the
candidates on what *is* observed: how well each one predicts crowd answers it has not seen.

Procedure
---------
1. **Hold out answers.** Each split hides a share ``holdout`` of the answers of every task that has
   at least two answers, never all of them: a task with ``n`` answers hides
   ``floor(holdout * n + u)`` of them (``u`` uniform in [0, 1), so the expected share is exactly
   ``holdout`` even for tasks with 2-4 answers), capped at ``n - 1``; which ones is drawn at random.
   Tasks with a single answer keep it. ``n_splits`` independent splits are drawn (repeated random
   sub-sampling validation); by default as many as it takes to hold out ``min_hidden`` = 20,000
   answers in all, between 3 and 10, since on a small data set one split's score is noisy.
2. **Fit** every candidate on the remaining (training) answers. Its posterior ``probas[t]`` is the
   candidate's belief about task ``t``'s class given the training answers.
3. **Score** each hidden answer ``(t, w, l)`` with the posterior predictive

   .. math:: p(l \\mid t, w) = \\sum_k \\mathrm{probas}[t, k]\\, C_w[k, l]

   and average ``log p`` over the hidden answers. ``C_w`` is worker ``w``'s confusion matrix
   (rows = true class). By default (``confusion="plugin"``) it is the same *plug-in* estimate for
   every candidate: the worker's answers on the training tasks cross-tabulated against the
   candidate's posteriors,

   .. math:: N_w[k, l] = \\sum_{(t, w, l) \\in \\text{train}} \\mathrm{probas}[t, k], \\qquad
             C_w[k, :] = \\frac{N_w[k, :] + s\\, \\bar C[k, :]}{\\sum_l N_w[k, l] + s},

   i.e. the Dawid-Skene M-step (Dawid & Skene 1979) under the candidate's posterior, shrunk
   towards the pooled confusion :math:`\\bar C` (all workers' counts, add-one smoothed) by ``s =
   smoothing`` pseudo-answers per row. A worker whose answers are all hidden has ``N_w = 0`` and
   falls back to :math:`\\bar C`. The plug-in works for every strategy (majority vote has no worker
   model; GLAD, MACE and Wawa have skills, not confusions), so the comparison is of the
   *posteriors* alone, on an equal footing, and does not reward a strategy for a worker model
   that is merely more flexible. ``confusion="model"`` uses a candidate's own ``confusions_``
   where it has them (plug-in otherwise).
4. **Guard against collapsed solutions.** A candidate whose hard labels (in any split) give
   some class less than ``collapse_ratio`` times the share of the answers that name it (for
   classes named by at least 5% of the answers) has merged that class into others, e.g. a
   Bayesian model that never predicts a class the workers use one time in five. Merging
   classes the workers confuse can *raise* the held-out likelihood while destroying those
   labels, so such a candidate is only eligible when every candidate is collapsed.
5. **Choose** the eligible candidate with the highest mean held-out log-likelihood per answer
   (averaged over the splits), refit it on all answers and expose its learned attributes.

The criterion is the predictive log-likelihood of cross-validation (Stone 1974), with held-out
crowd answers standing in for the missing gold labels. Truth, when the
:class:`~crowdlearn.answers.Answers` carry it, is removed before anything is fitted.

Cost: ``n_splits + 1`` fits of every candidate (4 on large data sets, up to 11 on small
ones). ``ebcc`` is not among the default candidates: its variational fit takes tens of seconds
to minutes on 10^4-10^5 answers; pass it in ``candidates`` to include it.

How it did, and why it is not the default
------------------------------------------
On the 14 shared truth-inference sets, where its criterion and guard were developed, ``auto`` is
1.1 points below each set's best strategy on average. On seven label-only sets that it had never
seen (issue 11: 300 to 42,624 tasks, 2 to 5 classes) it was 3.9 points below the best on
average, 10.5 below on the worst, and *below majority vote* on three of the seven (by 5.7, 5.6
and 4.9 points): held-out answer likelihood does not pick the most accurate posterior reliably
enough. ``crowdlearn aggregate`` therefore runs
:class:`~crowdlearn.aggregate.default.PooledDawidSkene` (``pooled-ds``) by default; ``auto``
stays available (``-s auto``) for those who want its choice.

Limitations
-----------
Held-out likelihood rewards the posterior that best *explains the answers*. When the latent
classes that explain them best are not the gold classes, ``auto`` follows the answers. On the
ZenCrowd entity-linking data (``zencrowd-all``), for instance, the full-confusion models
(Dawid-Skene, MACE, IBCC) predict held-out answers clearly better than majority vote or the
one-coin model (-0.455 to -0.460 nats per answer against -0.49 to -0.52), yet score 79-80%
against 84-85%. The cause is correlated workers: three workers who gave a quarter of the answers
say the minority class on the same ~20% of the majority-class tasks, and the Dawid-Skene
partition follows them (740 tasks in the minority class where the gold has 443); their held-out
answers account for nearly all of the likelihood gap. This is a property of the criterion, not
of how it is estimated: scored the same way (every candidate's hard labels against the gold
labels as a posterior), the *gold labels themselves* rank only 6th of 15 on ``zencrowd-all``
(and 13th of 14 on ``face`` and ``dog``). Variants of the scoring tried on the 14 sets: other
smoothing, not scoring held-out answers whose duplicate stayed in training, weighting workers
equally, pooled confusions, hard labels, per-candidate posterior tempering (none improved
``zencrowd-all``, none improved the mean gap to the best strategy by more than 0.1 point), and
one-coin plug-in confusions (``zencrowd-all`` -2.4, but ``bluebird`` -17.6 and ``trec`` -12.9).
A model of worker correlation does explain these answers better: EBCC's own posterior
predictive (with its subtypes) beats Dawid-Skene's on ``zencrowd-all`` and EBCC scores 87%
there, but as a candidate it wins on ``bluebird`` too (5 points below the best), and it costs
tens of seconds per fit, so it is not a default candidate. On the other label-only benchmarks of
``benchmarks/aggregation.py`` the choice is within about a point of the best single strategy
(``face``, where every strategy is between 61% and 66%, within 3.5).

References
----------
Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates using
the EM algorithm. *Journal of the Royal Statistical Society C*, 28(1), 20-28.

Stone, M. (1974). Cross-validatory choice and assessment of statistical predictions. *Journal of
the Royal Statistical Society B*, 36(2), 111-147.

Zheng, Y., Li, G., Li, Y., Shan, C. & Cheng, R. (2017). Truth inference in crowdsourcing: is the
problem solved? *PVLDB*, 10(5), 541-552.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from ..answers import Answers
from ..errors import CrowdlearnError
from ..params import POSITIVE, SEED, Choice, Custom, Float, Int, Param
from .base import Aggregator, available, get_strategy_class, make_strategy, register
from .heldout import (  # noqa: F401  (holdout_split re-exported)
    _split,
    collapsed_classes,
    heldout_loglik,
    holdout_split,
    plugin_confusions,
)

#: Strategies tried by default, in order of preference on exact ties (simplest first). Names
#: that are not registered, that handle two classes only on multi-class data, or that are
#: ``auto`` itself are left out at fit time.
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "mv", "naivesoft", "wawa", "zbs", "onecoin", "glad", "mace", "ds", "wds", "dswc", "ibcc",
    "bwa", "mmsr", "kos",
)

Candidate = str | Aggregator

CANDIDATES = Custom(
    "a non-empty list of strategy names or aggregators",
    lambda v: isinstance(v, (list, tuple)) and len(v) > 0
    and all(isinstance(c, (str, Aggregator)) for c in v),
    bad=("ds", [], [1]), none=True)


def _clone(candidate: Candidate) -> Aggregator:
    if isinstance(candidate, Aggregator):
        return type(candidate)(**candidate.get_params())
    if get_strategy_class(candidate).name == "mv":
        # auto scores a candidate by the confusions its posterior implies: majority vote's
        # is its hard decision (ties split), not the vote shares of MajorityVote's default
        return make_strategy(candidate, posterior="tied")
    return make_strategy(candidate)


def _label(candidate: Candidate) -> str:
    if isinstance(candidate, Aggregator):
        return candidate.name or type(candidate).__name__.lower()
    return candidate.strip()


@register("auto")
class AutoAggregator(Aggregator):
    """Pick the aggregation strategy that best predicts held-out crowd answers; no truth used.

    See the module documentation for the procedure and references.

    Parameters
    ----------
    candidates:
        Strategy names (``"ds"``, ``"glad[max_iter=50]"``) or unfitted aggregators to compare.
        ``None``: :data:`DEFAULT_CANDIDATES` that are registered and handle the data's number of
        classes.
    holdout:
        Expected share of each (multi-answer) task's answers hidden in a split.
    n_splits:
        Number of independent random splits; scores are averaged over them. ``None``: enough
        splits to hold out ``min_hidden`` answers in all (at least 3, at most 10), so that
        small data sets, where one split's score is noisy, get more of them.
    min_hidden:
        Total number of held-out answers aimed at when ``n_splits`` is ``None``.
    smoothing:
        Pseudo-answers per confusion row in the plug-in confusion (see
        :func:`plugin_confusions`).
    collapse_ratio:
        A candidate whose labels give a class less than this fraction of that class's share
        of the answers is "collapsed" and only chosen when all are (see
        :func:`collapsed_classes`); 0 disables the guard.
    confusion:
        ``"plugin"`` (default): score every candidate with the plug-in confusion of its
        posterior; ``"model"``: use a candidate's own ``confusions_`` when it has them.
    random_state:
        Seed of the splits; also passed to candidates that take a ``random_state``.

    Attributes
    ----------
    chosen_ : str
        Name of the chosen candidate.
    estimator_ : Aggregator
        The chosen strategy, refitted on all answers.
    n_splits_ : int
        Number of splits used.
    scores_ : dict
        Per candidate: ``loglik`` (mean held-out log-likelihood per answer), ``loglik_std``
        (its standard deviation over splits), ``per_split``, ``seconds`` (total fitting time
        over the splits), ``collapsed`` (class indices its labels collapsed, in any split),
        ``error`` (message when the candidate failed, else ``None``).
    reason_ : str
        A sentence saying why ``chosen_`` was chosen.
    labels_, probas_, confusions_, skills_, priors_, n_iter_, log_likelihood_ :
        Those of ``estimator_`` (where it has them).

    Examples
    --------
    >>> from crowdlearn.aggregate import make_strategy
    >>> auto = make_strategy("auto", candidates=["mv", "ds"])  # doctest: +SKIP
    >>> auto.fit(answers).chosen_  # doctest: +SKIP
    'ds'
    """

    param_specs: ClassVar[dict[str, Param]] = {
        "candidates": CANDIDATES, "holdout": Float(0, 1, low_open=True, high_open=True),
        "n_splits": Int(1, none=True), "min_hidden": Int(1), "smoothing": POSITIVE,
        "collapse_ratio": Float(0, 1), "confusion": Choice("plugin", "model"),
        "random_state": SEED,
    }

    def __init__(
        self,
        candidates: Sequence[Candidate] | None = None,
        holdout: float = 0.2,
        n_splits: int | None = None,
        min_hidden: int = 20_000,
        smoothing: float = 5.0,
        collapse_ratio: float = 0.1,
        confusion: Literal["plugin", "model"] = "plugin",
        random_state: int | None = 0,
    ) -> None:
        self.candidates = candidates
        self.holdout = holdout
        self.n_splits = n_splits
        self.min_hidden = min_hidden
        self.smoothing = smoothing
        self.collapse_ratio = collapse_ratio
        self.confusion = confusion
        self.random_state = random_state

    # ------------------------------------------------------------------ candidates
    def candidate_list(self, n_classes: int) -> list[Candidate]:
        """The candidates compared on data with ``n_classes`` classes."""
        if self.candidates is not None:
            out = list(self.candidates)
            if not out:
                raise CrowdlearnError("auto: the candidate list is empty")
            return out
        names = set(available())
        out = []
        for name in DEFAULT_CANDIDATES:
            if name not in names or name == self.name:
                continue
            if get_strategy_class(name).binary_only and n_classes != 2:
                continue
            out.append(name)
        if not out:
            raise CrowdlearnError("auto: none of the default candidate strategies is registered")
        return out

    def _make(self, candidate: Candidate) -> Aggregator:
        est = _clone(candidate)
        if "random_state" in est._param_names() and self.random_state is not None:
            est.set_params(random_state=self.random_state)
        return est

    def _confusions(self, est: Aggregator, train: Answers) -> np.ndarray:
        if self.confusion not in ("plugin", "model"):
            raise ValueError(f"confusion must be 'plugin' or 'model', got {self.confusion!r}")
        if self.confusion == "model":
            conf = getattr(est, "confusions_", None)
            shape = (train.n_workers, train.n_classes, train.n_classes)
            if conf is not None and np.shape(conf) == shape:
                conf = np.clip(np.asarray(conf, dtype=np.float64), 1e-12, None)
                return conf / conf.sum(axis=2, keepdims=True)
        return plugin_confusions(train, np.asarray(est.probas_), self.smoothing)

    # ------------------------------------------------------------------ fitting
    def _fit(self, answers: Answers) -> None:
        answers = answers.with_truth(None)  # truth is never looked at
        candidates = self.candidate_list(answers.n_classes)
        labels = [_label(c) for c in candidates]
        if len(set(labels)) != len(labels):
            raise CrowdlearnError(f"auto: duplicate candidates in {labels}")
        rng = np.random.default_rng(self.random_state)
        splits = [_split(answers, self.holdout, rng)]
        n_splits = self.n_splits
        if n_splits is None:
            per_split = max(int(splits[0].sum()), 1)
            n_splits = int(np.clip(np.ceil(self.min_hidden / per_split), 3, 10))
        if n_splits < 1:
            raise ValueError(f"n_splits must be at least 1, got {n_splits}")
        splits += [_split(answers, self.holdout, rng) for _ in range(n_splits - 1)]
        splits = splits[:n_splits]
        self.n_splits_ = n_splits
        n_hidden = [int(h.sum()) for h in splits]
        scores: dict[str, dict[str, Any]] = {
            lab: {"loglik": np.nan, "loglik_std": np.nan, "per_split": [], "seconds": 0.0,
                  "collapsed": [], "error": None}
            for lab in labels
        }
        if min(n_hidden) == 0:
            raise CrowdlearnError(
                "auto: no answer can be held out (every task has a single answer); choose a "
                "strategy explicitly"
            )
        for hidden in splits:
            train = answers.select_answers(~hidden)
            h_task, h_worker, h_label = (
                answers.task[hidden], answers.worker[hidden], answers.label[hidden]
            )
            for cand, lab in zip(candidates, labels, strict=True):
                entry = scores[lab]
                if entry["error"] is not None:
                    continue
                est = self._make(cand)
                start = time.perf_counter()
                try:
                    est.fit(train)
                except (CrowdlearnError, ValueError, FloatingPointError, np.linalg.LinAlgError,
                        MemoryError) as exc:
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                    continue
                finally:
                    entry["seconds"] += time.perf_counter() - start
                probas = np.asarray(est.probas_, dtype=np.float64)
                if not np.all(np.isfinite(probas)):
                    entry["error"] = "non-finite posterior"
                    continue
                conf = self._confusions(est, train)
                if self.collapse_ratio > 0:
                    gone = collapsed_classes(train, np.asarray(est.labels_), self.collapse_ratio)
                    entry["collapsed"] = sorted(set(entry["collapsed"]) | set(gone.tolist()))
                entry["per_split"].append(
                    float(heldout_loglik(probas, conf, h_task, h_worker, h_label).mean())
                )
        ok = [lab for lab in labels if scores[lab]["error"] is None]
        for lab in ok:
            vals = np.asarray(scores[lab]["per_split"])
            scores[lab]["loglik"] = float(vals.mean())
            scores[lab]["loglik_std"] = float(vals.std())
        if not ok:
            raise CrowdlearnError(
                "auto: every candidate failed: "
                + "; ".join(f"{lab}: {scores[lab]['error']}" for lab in labels)
            )
        eligible = [lab for lab in ok if not scores[lab]["collapsed"]] or ok
        best = max(eligible, key=lambda lab: scores[lab]["loglik"])  # first wins exact ties
        chosen = candidates[labels.index(best)]
        estimator = self._make(chosen).fit(answers)

        self.scores_ = scores
        self.chosen_ = best
        self.estimator_ = estimator
        self.reason_ = self._reason(best, ok, eligible, scores, n_hidden, answers)
        for attr in ("labels_", "probas_", "confusions_", "skills_", "priors_",
                     "difficulties_", "n_iter_", "log_likelihood_"):
            value = getattr(estimator, attr, None)
            if value is not None:
                setattr(self, attr, value)

    def _reason(
        self, best: str, ok: list[str], eligible: list[str], scores: dict[str, dict[str, Any]],
        n_hidden: list[int], answers: Answers,
    ) -> str:
        s = scores[best]
        share = float(np.mean(n_hidden)) / max(answers.n_answers, 1)
        text = (
            f"chose {best!r}: it predicts held-out answers best, with a mean log-likelihood of "
            f"{s['loglik']:.4f} per answer (sd {s['loglik_std']:.4f} over {self.n_splits_} "
            f"split(s) hiding {share:.0%} of the answers)"
        )
        rest = sorted((lab for lab in eligible if lab != best),
                      key=lambda lab: -scores[lab]["loglik"])
        if rest:
            second = rest[0]
            gap = s["loglik"] - scores[second]["loglik"]
            text += (
                f", {gap:.4f} above the runner-up {second!r} ({scores[second]['loglik']:.4f}) "
                f"among {len(ok)} candidates"
            )
        collapsed = [lab for lab in ok if scores[lab]["collapsed"]]
        if collapsed:
            names = answers.classes
            parts = [f"{lab} (class {', '.join(str(names[k]) for k in scores[lab]['collapsed'])}"
                     f"{', would have won' if scores[lab]['loglik'] > s['loglik'] else ''})"
                     for lab in collapsed]
            if len(eligible) < len(ok):
                verb = "was" if len(collapsed) == 1 else "were"
                text += f"; {', '.join(parts)} {verb} set aside for collapsing a class"
            else:
                text += f"; every candidate collapsed a class ({', '.join(parts)})"
        failed = [lab for lab in scores if scores[lab]["error"] is not None]
        if failed:
            text += f"; {', '.join(failed)} failed and were skipped"
        return text + "."
