"""The aggregator base class, its DataFrame adapter and the registry of strategy names.

Every label-aggregation strategy is a scikit-learn-style estimator: settings in ``__init__``,
learning in ``fit``, learned attributes ending in ``_``:

``labels_``
    hard labels (class index per task; a pandas Series of class names indexed by task id when
    ``fit`` was given a DataFrame, as crowd-kit returns them);
``probas_``
    posterior (tasks x classes; a DataFrame when fitted on a DataFrame);
``confusions_``
    (workers x classes x classes) worker confusion matrices, rows = true class, columns = answer,
    for strategies that model them; ``skills_`` (one number per worker) for those that do not;
``priors_``, ``n_iter_``, ``log_likelihood_``, ``fit_seconds_``, ``answers_``;
``gold_`` (class index per task, -1 where unknown) when ``fit`` was given gold labels.

Gold labels (``fit(data, true_labels)`` / ``fit(data, gold=...)``) are fixed posteriors: the
EM skeleton (:func:`~crowdlearn.aggregate._em.run_em`) clamps them in every E-step of every
strategy built on it, and ``fit`` clamps the final ``probas_`` / ``labels_`` of every strategy.

Subclasses implement ``_fit(answers)`` on an :class:`~crowdlearn.answers.Answers` and set
``probas_`` (ndarray) plus whatever else they learn; the base derives ``labels_`` (argmax, exact
ties broken by a seeded draw) and handles DataFrame input.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any, ClassVar

import numpy as np

from ..answers import Answers
from ..errors import CrowdlearnError, DataError, MissingColumnError, NotFittedError
from ..kinds import refuse_kind
from ..params import Param, check_params, specs_of
from ._em import clamp_gold, fit_progress, gold_context
from ._params_mixin import ParamsMixin, check_strategy_params
from ._registry import registering

_REGISTRY: dict[str, type[Aggregator]] = {}
#: parameter names of other libraries accepted for a strategy: canonical name -> {alias: param}
_PARAM_ALIASES: dict[str, dict[str, str]] = {}
#: parameter aliases accepted by every strategy that has the target parameter (peerannot's
#: ``run(maxiter=..., epsilon=...)`` and ``IWMV.run(nb_iter)``)
_COMMON_PARAM_ALIASES: dict[str, str] = {"maxiter": "n_iter", "nb_iter": "n_iter",
                                          "epsilon": "tol"}


def register(*names: str):
    """Class decorator: make a strategy available under ``names`` (lower case) in the registry."""
    return registering(_REGISTRY, names)


def add_aliases(canonical: str, *names: str, params: dict[str, str] | None = None) -> None:
    """Make the strategy registered as ``canonical`` also answer to ``names`` (any case), and
    accept the parameter names of ``params`` (``{alias: parameter}``) in its bracket syntax.

    Aliases never appear in :func:`available`, which lists canonical names only.
    """
    cls = get_strategy_class(canonical)
    register(*names)(cls)
    if params:
        _PARAM_ALIASES.setdefault(cls.name, {}).update(params)


def resolve_params(cls: type[Aggregator], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with other libraries' parameter names (see :func:`add_aliases`) renamed to
    ``cls``'s; a name that is already a parameter of ``cls`` is kept as it is."""
    valid = set(cls._param_names())
    own = _PARAM_ALIASES.get(cls.name, {})
    out: dict[str, Any] = {}
    for key, value in params.items():
        target = key
        if key not in valid:
            target = own.get(key, own.get(key.lower(), _COMMON_PARAM_ALIASES.get(key.lower(),
                                                                                 key)))
            if target not in valid:
                target = key
        if target in out:
            raise CrowdlearnError(f"strategy {cls.name!r}: parameter {target!r} given twice")
        out[target] = value
    return out


def available() -> list[str]:
    """Canonical names of every registered strategy, in registration order."""
    seen: list[str] = []
    for cls in _REGISTRY.values():
        if cls.name not in seen:
            seen.append(cls.name)
    return seen


def get_strategy_class(name: str) -> type[Aggregator]:
    """The strategy class registered under ``name`` (case-insensitive)."""
    key = name.lower()
    if key not in _REGISTRY:
        raise CrowdlearnError(
            f"unknown aggregation strategy {name!r}; choose from {', '.join(available())}"
        )
    return _REGISTRY[key]


def make_strategy(name: str, **params: Any) -> Aggregator:
    """Instantiate the strategy registered under ``name`` with ``params``.

    ``name`` may carry parameters in peerannot's bracket syntax: ``"ds[max_iter=50,tol=1e-6]"``.
    Every value is checked against the strategy's ``param_specs``
    (:class:`~crowdlearn.params.ParameterError`, one line listing the valid values).
    """
    name, bracket = parse_strategy_spec(name)
    cls = get_strategy_class(name)
    bracket = resolve_params(cls, bracket)
    bracket.update(resolve_params(cls, params))
    check_strategy_params(cls, bracket)
    return cls(**bracket)


def parse_strategy_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name[a=1,b=x]"`` into ``("name", {"a": 1, "b": "x"})``."""
    spec = spec.strip()
    if "[" not in spec:
        return spec, {}
    if not spec.endswith("]"):
        raise CrowdlearnError(f"malformed strategy {spec!r}: expected name[param=value,...]")
    name, inner = spec[:-1].split("[", 1)
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in inner.split(","))):
        if "=" not in item:
            raise CrowdlearnError(f"malformed strategy parameter {item!r} in {spec!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        params[key] = parse_value(value)
    return name.strip(), params


def parse_value(text: str) -> Any:
    """A bracket or ``--param`` value: booleans, None, numbers, else text (quotes removed, as
    peerannot writes text values: ``plantnet[AI='worker']``)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


class Aggregator(ParamsMixin):
    """Base class of label-aggregation (truth-inference) strategies.

    Subclasses set ``name`` through :func:`register` and implement :meth:`_fit`.
    """

    name: ClassVar[str] = ""
    #: whether the strategy learns a full confusion matrix per worker
    has_confusions: ClassVar[bool] = False
    #: whether the strategy only handles two classes
    binary_only: ClassVar[bool] = False
    #: what each constructor parameter accepts (merged with the base classes'; see
    #: :mod:`crowdlearn.params`); a test checks every parameter has one
    param_specs: ClassVar[dict[str, Param]] = {}

    # -------------------------------------------------------------- fitting
    def fit(self, data: Any, true_labels: Any = None, *, gold: Any = None) -> Aggregator:
        """Learn from crowd answers.

        Parameters
        ----------
        data:
            An :class:`~crowdlearn.answers.Answers`, or a DataFrame with ``task`` (or ``item``),
            ``worker`` and ``label`` columns. With a DataFrame, ``labels_`` and ``probas_`` are
            pandas objects indexed by the original task ids, as in crowd-kit, and repeated
            (task, worker) rows are all kept as answers, as crowd-kit does. A missing column
            raises :class:`~crowdlearn.errors.MissingColumnError` (a ``KeyError``, as in
            crowd-kit, and a :class:`~crowdlearn.errors.DataError`).
        true_labels, gold:
            Gold labels: the known true label of some tasks (crowd-kit's ``true_labels``; the
            second positional argument, where scikit-learn puts ``y``). A pandas Series
            indexed by task id, a ``{task_id: label}`` dict, a DataFrame with ``task`` and
            ``label`` (or ``truth``) columns, or, with an ``Answers``, an array of class
            indices per task (-1 where unknown). Every EM-type strategy holds the posterior of
            a gold task fixed at its label in every E-step; every strategy returns the gold
            label on gold tasks. Gold tasks absent from ``data`` are ignored (as in crowd-kit).
            The truth attached to an ``Answers`` is *not* gold: it is kept for evaluation.
        """
        check_params(type(self).__name__, specs_of(type(self)), self.get_params())
        if true_labels is not None and gold is not None:
            raise TypeError("give gold labels once: true_labels or gold, not both")
        gold = true_labels if gold is None else gold
        refuse_kind(self.name or type(self).__name__, "classification", data)
        answers, from_frame = _as_answers(data)
        gold_idx = gold_indices(answers, gold)
        if self.binary_only and answers.n_classes != 2 and answers.n_answers:
            raise DataError(
                f"{type(self).__name__} handles two classes only; the data has "
                f"{answers.n_classes}"
            )
        self._forget_fit()
        start = time.perf_counter()
        # the bar is drawn only for fits of 2 s or more; a fit nested in another (auto's
        # candidates) inherits the outer gold labels
        held = gold_context(gold_idx, answers.n_classes) if gold_idx is not None else nullcontext()
        with fit_progress(type(self).__name__), held:
            self._fit(answers)
        probas = np.asarray(self.probas_, dtype=np.float64)
        if probas.shape != (answers.n_tasks, answers.n_classes):
            raise AssertionError(
                f"{type(self).__name__} produced probas of shape {probas.shape}, expected "
                f"{(answers.n_tasks, answers.n_classes)}"
            )
        if gold_idx is not None:
            probas = clamp_gold(np.array(probas, copy=True), gold_idx)
            if hasattr(self, "labels_"):
                known = gold_idx >= 0
                self.labels_ = np.where(known, gold_idx, np.asarray(self.labels_))
            self.gold_ = gold_idx
        self.probas_ = probas
        if not hasattr(self, "labels_"):
            self.labels_ = argmax_random_ties(probas, getattr(self, "random_state", 0))
        self.fit_seconds_ = time.perf_counter() - start
        self.answers_ = answers
        if not hasattr(self, "n_iter_"):
            self.n_iter_ = 0
        if not hasattr(self, "log_likelihood_"):
            self.log_likelihood_ = None
        self._arrays = {"labels": np.asarray(self.labels_), "probas": probas}
        for attr in ("confusions_", "skills_", "priors_", "difficulties_"):
            value = getattr(self, attr, None)
            if value is not None:
                self._arrays[attr.rstrip("_")] = np.asarray(value, dtype=np.float64)
        if from_frame:
            self._to_pandas(answers)
        return self

    def _fit(self, answers: Answers) -> None:
        raise NotImplementedError

    def fit_predict(self, data: Any, true_labels: Any = None, *, gold: Any = None) -> Any:
        """Fit, then return ``labels_``."""
        return self.fit(data, true_labels, gold=gold).labels_

    def fit_predict_proba(self, data: Any, true_labels: Any = None, *, gold: Any = None) -> Any:
        """Fit, then return ``probas_``."""
        return self.fit(data, true_labels, gold=gold).probas_

    def _check_fitted(self) -> None:
        if not hasattr(self, "_arrays"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")

    # -------------------------------------------------------------- results
    def _to_pandas(self, answers: Answers) -> None:
        import pandas as pd

        if answers.n_tasks == 0:  # crowd-kit's empty results
            self.labels_ = pd.Series(dtype=float, name="agg_label")
            self.probas_ = pd.DataFrame()
            for attr, name in (("skills_", "skill"), ("priors_", "prior")):
                if getattr(self, attr, None) is not None:
                    setattr(self, attr, pd.Series(dtype=float, name=name))
            return
        index = pd.Index(answers.task_ids, name="task")
        labels = np.asarray(self.labels_)
        self.labels_ = pd.Series(answers.classes[labels], index=index, name="agg_label")
        self.probas_ = pd.DataFrame(
            self.probas_, index=index, columns=pd.Index(answers.classes, name="label")
        )
        if getattr(self, "skills_", None) is not None and np.ndim(self.skills_) == 1:
            self.skills_ = pd.Series(
                self.skills_, index=pd.Index(answers.worker_ids, name="worker"), name="skill"
            )
        if getattr(self, "priors_", None) is not None and np.ndim(self.priors_) == 1:
            self.priors_ = pd.Series(
                self.priors_, index=pd.Index(answers.classes, name="label"), name="prior"
            )

    def result_arrays(self) -> dict[str, np.ndarray]:
        """What was learned, as plain arrays in task / worker / class order (for writing).

        Keys: ``labels`` (class index per task), ``probas`` and, where learned, ``confusions``,
        ``skills``, ``priors``, ``difficulties``.
        """
        self._check_fitted()
        return dict(self._arrays)


def _as_answers(data: Any) -> tuple[Answers, bool]:
    if isinstance(data, Answers):
        return data, False
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        check_columns(data)
        # crowd-kit treats every row as an answer, repeated (task, worker) rows included:
        # keep them all (never drop), as a crowd-kit user switching imports expects
        kwargs: dict[str, Any] = {}
        label = data["label"]
        if label.dtype.kind == "b" or (
            label.dtype.kind == "O" and len(label)
            and pd.api.types.infer_dtype(label, skipna=False) == "boolean"
        ):
            # crowd-kit accepts boolean labels: classes False, True (labels_ are booleans)
            data = data.assign(label=label.astype(bool).astype(np.int8))
            kwargs["classes"] = np.array([False, True])
        objects = _object_classes(label)
        if objects is not None:
            # crowd-kit accepts any hashable label (frozensets for sets of tags): the classes
            # are the distinct objects themselves, ordered by their repr (labels_ gives them)
            codes, classes = objects
            answers = Answers.from_frame(data.assign(label=codes), duplicates="all",
                                         classes=np.arange(len(classes)))
            return answers._replace(classes=classes), True
        return Answers.from_frame(data, duplicates="all", **kwargs), True
    raise TypeError(
        f"expected Answers or a pandas DataFrame with task/worker/label columns, got "
        f"{type(data).__name__}"
    )


def _object_classes(label: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, classes)`` for a label column of hashable objects that are neither text nor
    numbers (frozensets, tuples), else ``None`` (the column goes through the text / number
    rules of :mod:`crowdlearn.labels`)."""
    if label.dtype.kind != "O" or not len(label) \
            or not isinstance(label.iloc[0], (frozenset, tuple)):
        return None  # text, numbers, or a mixture: decided by the first value, no loop
    values = label.tolist()
    if not all(isinstance(v, (frozenset, tuple)) for v in values):
        return None  # a mixture: the label rules name the first odd value
    uniq = sorted(set(values), key=repr)
    index = {v: i for i, v in enumerate(uniq)}
    classes = np.empty(len(uniq), dtype=object)
    classes[:] = uniq
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values)), classes


def check_columns(frame: Any, source: str = "DataFrame") -> None:
    """Raise :class:`MissingColumnError` unless ``frame`` has task (or item), worker, label."""
    task = "task" if "task" in frame.columns or "item" not in frame.columns else "item"
    missing = [c for c in (task, "worker", "label") if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"missing column(s) {', '.join(missing)} "
            f"(columns are {', '.join(map(str, frame.columns)) or 'none'})",
            source=source,
        )


def gold_indices(answers: Answers, gold: Any) -> np.ndarray | None:
    """Gold labels as class indices per task of ``answers`` (-1 where unknown), or ``None``.

    ``gold``: a Series indexed by task id, a ``{task_id: label}`` dict, a DataFrame with
    ``task`` and ``label`` (or ``truth``) columns, or an array of class indices per task.
    Task ids absent from ``answers`` are ignored; a label outside the classes is an error.
    """
    import pandas as pd

    if gold is None:
        return None
    if isinstance(gold, pd.DataFrame):
        value = "label" if "label" in gold.columns else "truth"
        missing = [c for c in ("task", value) if c not in gold.columns]
        if missing:
            raise MissingColumnError(f"missing column(s) {', '.join(missing)}",
                                     source="gold labels")
        gold = pd.Series(gold[value].to_numpy(), index=gold["task"].to_numpy())
    elif isinstance(gold, dict):
        gold = pd.Series(list(gold.values()), index=list(gold.keys()), dtype=object)
    if not isinstance(gold, pd.Series):
        arr = np.asarray(gold)
        if arr.shape != (answers.n_tasks,) or arr.dtype.kind not in "iu":
            raise DataError(
                f"gold labels must be a Series indexed by task id, a dict, or an integer array "
                f"with one class index per task ({answers.n_tasks}), got shape {arr.shape}",
                source="gold labels",
            )
        if ((arr < -1) | (arr >= answers.n_classes)).any():
            raise DataError(f"gold class index outside -1..{answers.n_classes - 1}",
                            source="gold labels")
        return arr.astype(np.int64)
    out = np.full(answers.n_tasks, -1, dtype=np.int64)
    if not len(gold) or not answers.n_tasks:
        return out
    pos = pd.Index(answers.task_ids).get_indexer(pd.Index(gold.index))
    values = gold.to_numpy()
    keep = pos >= 0
    cls = pd.Index(answers.classes).get_indexer(pd.Index(values[keep]))
    if (cls < 0).any():
        bad = values[keep][int(np.argmax(cls < 0))]
        raise DataError(f"gold label {bad!r} is not one of the classes "
                        f"{', '.join(map(str, answers.classes))}", source="gold labels")
    out[pos[keep]] = cls
    return out


def row_ties(scores: np.ndarray, rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``scores`` (n x K): the tied-maximum mask, the number tied and the first tied.

    Returns ``tied`` as a (K x n) boolean array (class-major), ``n_tied`` (n,) and ``first`` (n,).
    Ties are values within ``rtol`` (relative) of the row maximum. Reductions run over a
    class-major copy, vectorised over rows: numpy reduces a short trailing axis (K = 2..10)
    several times slower.
    """
    cols = np.ascontiguousarray(np.asarray(scores, dtype=np.float64).T)
    best = cols.max(axis=0)
    tied = cols >= best - rtol * np.abs(best)
    n_tied = tied.sum(axis=0)
    first = np.zeros(cols.shape[1], dtype=np.int64)
    for k in range(cols.shape[0] - 1, -1, -1):  # over classes, not rows
        first[tied[k]] = k
    return tied, n_tied, first


def argmax_random_ties(probas: np.ndarray, seed: Any = 0, rtol: float = 1e-12) -> np.ndarray:
    """Row-wise argmax; rows whose maximum is shared pick uniformly among the tied columns.

    ``seed`` makes the draw repeatable. Ties are values within ``rtol`` of the row maximum.
    """
    probas = np.asarray(probas, dtype=np.float64)
    if probas.size == 0:
        return np.zeros(probas.shape[0], dtype=np.int64)
    return break_ties(*row_ties(probas, rtol), seed)


def break_ties(
    tied: np.ndarray, n_tied: np.ndarray, first: np.ndarray, seed: Any = 0
) -> np.ndarray:
    """Labels from :func:`row_ties`' output: ``first`` where one class is tied, a seeded draw
    among the tied classes elsewhere (``first`` is overwritten and returned).

    The draw is that of :func:`argmax_random_ties`: one uniform number per class of every tied
    row (rows in order), the tied class with the largest number wins.
    """
    multi = np.flatnonzero(n_tied > 1)
    if len(multi):
        rng = np.random.default_rng(seed)
        noise = rng.random((len(multi), tied.shape[0]))
        first[multi] = np.where(tied[:, multi].T, noise, -1.0).argmax(axis=1)
    return first
