"""Training-dynamics diagnostics: the area under the margin (AUM) and its worker-weighted
version (WAUM).

Both train a classifier on the items (features or images, as ``crowdlearn fit``) with the one
training loop (:func:`crowdlearn.deep.train.train`) and record, at every training step, the
margin of the label each task was given:

* **AUM** [Ple20]_: the classifier learns the aggregated hard label :math:`y_i` of each task;
  the margin at a step is :math:`z_{y_i}(x_i) - \\max_{k \\neq y_i} z_k(x_i)` on the logits
  :math:`z` (``margin="pleiss"``), or :math:`z_{y_i} - z_{[2]}` with :math:`z_{[2]}` the
  second largest logit (``margin="top2"``). ``AUM(x_i)`` is its mean over the epochs. A
  mislabelled item is learnt late, its AUM is low (negative).
* **WAUM** [Lef24]_ (peerannot's ``WAUM``): the classifier learns every answer
  :math:`(x_i, y_i^{(j)})` (the stacked data set: one cross-entropy term per answer); the margin
  is taken on the softmax probabilities :math:`\\sigma` (``top2`` by default, peerannot's
  default; ``pleiss`` is its ``--use-pleiss``), averaged over the epochs into
  :math:`\\mathrm{AUM}(x_i, y_i^{(j)})`. Each answer is weighted by the worker's trust
  :math:`s^{(j)}(x_i) = \\sum_k \\sigma_k(x_i)\\,\\pi^{(j)}_{kk}` (the last epoch's
  probabilities against the diagonal of the worker's Dawid-Skene confusion matrix):
  :math:`\\mathrm{WAUM}(x_i) = \\sum_j s^{(j)}(x_i)\\,\\mathrm{AUM}(x_i, y_i^{(j)}) /
  \\sum_j s^{(j)}(x_i)`. Ambiguous tasks get a low WAUM.

The margins are accumulated on the device by scatter-adds over the batch's tasks / answers
(never a loop over answers). Within an epoch a task's logits are computed once per step, so
all its answers share them (peerannot's stacked loader sees each answer in its own batch).

The tasks to prune are those at or below the ``alpha`` quantile (:func:`too_hard`), written
by :func:`write_too_hard` as peerannot's ``too_hard_<alpha>.txt``.

References
----------
.. [Ple20] G. Pleiss, T. Zhang, E. Elenberg and K. Q. Weinberger. Identifying mislabeled data
   using the area under the margin ranking. NeurIPS 2020.
.. [Lef24] T. Lefort, B. Charlier, A. Joly and J. Salmon. Identify ambiguous tasks combining
   crowdsourced labels by weighting areas under the margin. TMLR 2024.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CrowdlearnError

__all__ = ["MARGINS", "MarginResult", "aum", "too_hard", "waum", "write_too_hard"]

#: margin definitions: ``pleiss`` (assigned label vs the largest other), ``top2`` (assigned
#: label vs the second largest value)
MARGINS = ("pleiss", "top2")
#: peerannot's default number of epochs of ``peerannot identify``
N_EPOCHS = 50


@dataclass
class MarginResult:
    """What :func:`aum` and :func:`waum` return.

    Attributes
    ----------
    values : ndarray
        AUM or WAUM of each task (answers' task order); NaN for a task never trained on.
    labels : ndarray
        AUM: the class index each task learnt (-1 for none). WAUM: -1.
    answer_aum, answer_weight : ndarray or None
        WAUM: the AUM of each answer (answers' order) and its trust weight.
    history : dict
        Per-epoch training loss (``train_loss``) and learning rate.
    records : ndarray or None
        With ``record=True``: (epochs, steps) of ``(epoch, task, logits...)`` rows of every
        training step, the raw material of the margins (peerannot's ``full_aum_records``).
    """

    values: np.ndarray
    labels: np.ndarray
    margin: str
    answer_aum: np.ndarray | None = None
    answer_weight: np.ndarray | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    records: np.ndarray | None = None


def _check_margin(margin: str) -> str:
    if margin not in MARGINS:
        raise CrowdlearnError(f"unknown margin {margin!r} (choose from {', '.join(MARGINS)})")
    return margin


def margins(values: Any, labels: Any, kind: str = "pleiss") -> Any:
    """Margin of ``labels`` in each row of ``values`` (torch tensors or arrays):
    ``pleiss``: ``v[y] - max_{k != y} v[k]``; ``top2``: ``v[y] - `` the second largest value
    of the row. With one class the margin is 0."""
    import torch

    v = torch.as_tensor(values)
    y = torch.as_tensor(labels, dtype=torch.int64, device=v.device).view(-1, 1)
    own = v.gather(1, y)[:, 0]
    if v.shape[1] < 2:
        return torch.zeros_like(own)
    if kind == "pleiss":
        other = v.scatter(1, y, float("-inf")).amax(dim=1)
    else:
        other = v.topk(2, dim=1).values[:, 1]
    return own - other


def too_hard(values: Any, alpha: float = 0.01) -> np.ndarray:
    """Indices of the tasks whose value is at or below its ``alpha`` quantile (NaN ignored):
    peerannot's ``cut_lowests``."""
    v = np.asarray(values, dtype=np.float64)
    if not 0.0 <= alpha <= 1.0:
        raise CrowdlearnError(f"alpha must be in [0, 1], got {alpha}")
    if not np.isfinite(v).any():
        return np.zeros(0, dtype=np.int64)
    q = np.nanquantile(v, alpha)
    return np.flatnonzero(np.isfinite(v) & (v <= q))


def peerannot_task_numbers(task_ids: Any) -> np.ndarray | None:
    """peerannot's task numbers (its ``answers.json`` keys, the number ending an image name)
    of ``task_ids``, or None when an id is not an integer."""
    ids = np.asarray(task_ids)
    try:
        nums = np.array([int(str(t)) for t in ids.tolist()], dtype=np.int64)
    except ValueError:
        return None
    return nums


def write_too_hard(path: str | os.PathLike[str], tasks: Any, task_ids: Any,
                   sample_index: Any = None) -> None:
    """Write the tasks to prune as peerannot does (``np.savetxt(..., fmt="%i")``): one line
    ``<sample index> <task number>`` per task. peerannot's ``train --path-remove`` reads the
    first column as the index of the image in its ``ImageFolder`` order, unless the first
    entry is ``-1``: then the second column (the task number, its ``answers.json`` key) is
    used. Without ``sample_index`` (feature items, or an unknown image order) the first
    column is ``-1``. Task ids must be integers (peerannot's task numbers)."""
    tasks = np.asarray(tasks, dtype=np.int64)
    nums = peerannot_task_numbers(np.asarray(task_ids)[tasks])
    if nums is None:
        raise CrowdlearnError("peerannot's too_hard file needs integer task ids")
    first = np.full(len(tasks), -1, dtype=np.int64) if sample_index is None else \
        np.asarray(sample_index, dtype=np.int64)[tasks]
    from ..io._atomic import atomic_write

    with atomic_write(path, "w") as f:
        np.savetxt(f, np.column_stack([first, nums]).reshape(-1, 2), fmt="%i")


# ------------------------------------------------------------------ training
def _prepare(x: Any, answers: Any, standardize: Any) -> Any:
    if hasattr(x, "align") and hasattr(x, "X"):  # crowdlearn.io.features.Features
        x = x.align(np.asarray(answers.task_ids)).X
    elif hasattr(x, "loc") and hasattr(x, "index"):
        x = x.loc[np.asarray(answers.task_ids)].to_numpy()
    import torch

    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
    if x.shape[0] != answers.n_tasks:
        raise CrowdlearnError(f"{x.shape[0]} items for {answers.n_tasks} tasks: give one item "
                              "per task in the answers' task order")
    std = standardize
    if std == "auto":
        std = isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype.kind == "f"
    if std:
        xf = np.asarray(x, dtype=np.float64)
        sd = xf.std(axis=0)
        x = ((xf - xf.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
    return x


def _train(x: Any, answers: Any, head: Any, on_batch: Any, tasks: np.ndarray, *,
           backbone: Any, backbone_params: dict[str, Any] | None, n_epochs: int,
           transform: Any, device: Any, seed: int | None, threads: Any,
           standardize: Any, **config: Any) -> Any:
    """Train a backbone with ``head`` on ``tasks`` for ``n_epochs`` (no validation split, the
    last epoch kept), calling ``on_batch`` at every step; returns the TrainResult."""
    import copy

    import torch

    from ..deep.backbones import make_backbone
    from ..deep.classifier import ONE_THREAD_MAX_PARAMS
    from ..deep.data import CrowdData, resolve_device
    from ..deep.train import CrowdModel, TrainConfig, seed_everything, train

    x = _prepare(x, answers, standardize)
    dev = resolve_device(device)
    seed_everything(seed)
    if isinstance(backbone, torch.nn.Module):
        net = copy.deepcopy(backbone)
    else:
        net = make_backbone(str(backbone), tuple(int(d) for d in x.shape[1:]),
                            answers.n_classes, **(backbone_params or {}))
    model = CrowdModel(net, head).to(dev)
    data = CrowdData(x, answers, dev, transform=transform)
    cfg = TrainConfig(n_epochs=int(n_epochs), selection="last", **config)
    saved = torch.get_num_threads()
    if threads == "auto":
        small = sum(p.numel() for p in model.parameters()) < ONE_THREAD_MAX_PARAMS
        threads = 1 if small and dev.type == "cpu" else None
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return train(model, data, answers, tasks, None, cfg, seed=seed, on_batch=on_batch)
    finally:
        torch.set_num_threads(saved)


def _answer_positions(batch: Any, indptr: Any) -> Any:
    """Index (in the answers' task-sorted order) of each answer of ``batch``: the same
    gathering as :meth:`crowdlearn.deep.data.CrowdData.batch`."""
    import torch

    starts = indptr[batch.tasks]
    lens = indptr[batch.tasks + 1] - starts
    first = torch.cumsum(lens, 0) - lens
    pos = torch.arange(batch.rows.shape[0], device=starts.device)
    return pos - first[batch.rows] + starts[batch.rows]


def _hard_labels(answers: Any, labels: Any, strategy: Any, seed: int | None) -> np.ndarray:
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != (answers.n_tasks,) or lab.dtype.kind not in "iu":
            raise CrowdlearnError(f"labels must be {answers.n_tasks} class indices (one per "
                                  "task, -1 for none)")
        if np.any((lab < -1) | (lab >= answers.n_classes)):
            raise CrowdlearnError(f"labels must be class indices in -1..{answers.n_classes - 1}")
        return lab.astype(np.int64)
    from . import _fitted

    est = _fitted(answers.with_truth(None), strategy, seed)
    out = np.asarray(est.result_arrays()["labels"], dtype=np.int64).copy()
    out[answers.answers_per_task() == 0] = -1
    return out


def aum(x: Any, answers: Any, *, labels: Any = None, strategy: Any = "default",
        margin: str = "pleiss", backbone: Any = "mlp",
        backbone_params: dict[str, Any] | None = None, n_epochs: int = N_EPOCHS,
        transform: Any = None, device: Any = "auto", seed: int | None = 0,
        threads: Any = "auto", standardize: Any = "auto", record: bool = False,
        **train_params: Any) -> MarginResult:
    """Area under the margin of each task [Ple20]_ (see the module docstring).

    Parameters
    ----------
    x : array, DataFrame indexed by task id, or Features
        One item per task (features or images), as :class:`~crowdlearn.deep.CrowdClassifier`.
    answers : Answers
    labels : array of int, optional
        The labels to learn (class indices, -1 for none, answers' task order);
        default: the hard labels of ``strategy`` fitted on the answers.
    margin : ``"pleiss"`` or ``"top2"``
        On the logits.
    backbone, backbone_params, n_epochs, transform, device, seed, threads, standardize
        The classifier and its training (``crowdlearn fit``'s meaning); ``train_params`` are
        :class:`~crowdlearn.deep.train.TrainConfig` fields (``lr``, ``optimizer``,
        ``batch_size``, ``momentum``, ``weight_decay``, ``schedule``, ...). No validation
        split: every labelled task is trained on, for all ``n_epochs``.
    record : bool
        Keep every step's logits in ``records``.
    """
    import torch

    from ..deep.heads.twostage import TwoStage

    _check_margin(margin)
    y = _hard_labels(answers, labels, strategy, seed)
    tasks = np.flatnonzero(y >= 0)
    if tasks.size == 0:
        raise CrowdlearnError("no labelled task to compute the AUM of")
    head = TwoStage(answers.n_classes, answers.n_workers, labels=y, soft=False)
    state: dict[str, Any] = {"rec": []}

    def on_batch(epoch: int, batch: Any, logits: Any) -> None:
        if "sum" not in state:
            state["sum"] = torch.zeros(answers.n_tasks, dtype=torch.float64,
                                       device=logits.device)
            state["n"] = torch.zeros(answers.n_tasks, dtype=torch.float64,
                                     device=logits.device)
            state["y"] = torch.as_tensor(y, device=logits.device)
        m = margins(logits, state["y"][batch.tasks], margin).double()
        state["sum"].index_add_(0, batch.tasks, m)
        state["n"].index_add_(0, batch.tasks, torch.ones_like(m))
        if record:
            state["rec"].append(torch.cat([
                torch.full_like(m, epoch)[:, None], batch.tasks.double()[:, None],
                logits.double()], dim=1).cpu())

    result = _train(x, answers, head, on_batch, tasks, backbone=backbone,
                    backbone_params=backbone_params, n_epochs=n_epochs, transform=transform,
                    device=device, seed=seed, threads=threads, standardize=standardize,
                    **train_params)
    total, n = state["sum"].cpu().numpy(), state["n"].cpu().numpy()
    values = np.divide(total, n, out=np.full(answers.n_tasks, np.nan), where=n > 0)
    recs = torch.cat(state["rec"]).numpy() if record and state["rec"] else None
    return MarginResult(values, y, margin, history=result.history, records=recs)


def waum(x: Any, answers: Any, *, confusions: Any = None, trust_strategy: str = "ds",
         margin: str = "top2", backbone: Any = "mlp",
         backbone_params: dict[str, Any] | None = None, n_epochs: int = N_EPOCHS,
         transform: Any = None, device: Any = "auto", seed: int | None = 0,
         threads: Any = "auto", standardize: Any = "auto", record: bool = False,
         **train_params: Any) -> MarginResult:
    """Weighted area under the margin of each task [Lef24]_ (see the module docstring).

    ``confusions`` (workers x K x K, rows = true class) give the trust; default: those of
    ``trust_strategy`` (Dawid-Skene, as peerannot) fitted on the answers. ``margin`` is taken
    on the softmax probabilities. The other parameters are :func:`aum`'s.
    """
    import torch

    from ..deep.heads.base import CrowdHead

    _check_margin(margin)
    if answers.n_answers == 0:
        raise CrowdlearnError("no answers to compute the WAUM of")
    if confusions is None:
        from . import _fitted

        confusions = _fitted(answers.with_truth(None), trust_strategy, seed).confusions_
        if confusions is None:
            raise CrowdlearnError(f"strategy {trust_strategy!r} learns no confusion matrices")
    conf = np.asarray(confusions, dtype=np.float64)
    if conf.shape != (answers.n_workers, answers.n_classes, answers.n_classes):
        raise CrowdlearnError(f"confusions of shape {conf.shape}: expected "
                              f"({answers.n_workers}, {answers.n_classes}, {answers.n_classes})")
    diag = np.diagonal(conf, axis1=1, axis2=2)  # workers x K

    class Stacked(CrowdHead):
        """Cross-entropy of every answer (the stacked data set)."""

        name = "stacked"

        def answer_log_probs(self, logits: Any, batch: Any) -> Any:
            return torch.log_softmax(logits, dim=1)[batch.rows]

    head = Stacked(answers.n_classes, answers.n_workers)
    n_ans = answers.n_answers
    state: dict[str, Any] = {"rec": []}

    def on_batch(epoch: int, batch: Any, logits: Any) -> None:
        dev = logits.device
        if "sum" not in state:
            state.update(
                sum=torch.zeros(n_ans, dtype=torch.float64, device=dev),
                n=torch.zeros(n_ans, dtype=torch.float64, device=dev),
                score=torch.zeros(n_ans, dtype=torch.float64, device=dev),
                last=torch.full((n_ans,), -1, dtype=torch.int64, device=dev),
                indptr=torch.tensor(np.array(answers.task_indptr), dtype=torch.int64, device=dev),
                diag=torch.tensor(np.array(diag), device=dev))
        if batch.n_answers == 0:
            return
        probs = torch.softmax(logits.double(), dim=1)
        p = probs[batch.rows]
        pos = _answer_positions(batch, state["indptr"])
        m = margins(p, batch.labels, margin)
        state["sum"].index_add_(0, pos, m)
        state["n"].index_add_(0, pos, torch.ones_like(m))
        # the trust of the answer's worker from the latest probabilities (the last epoch's
        # at the end)
        state["score"][pos] = (p * state["diag"][batch.workers]).sum(dim=1)
        state["last"][pos] = epoch
        if record:
            state["rec"].append(torch.cat([
                torch.full((batch.size, 1), float(epoch), dtype=torch.float64, device=dev),
                batch.tasks.double()[:, None], logits.double()], dim=1).cpu())

    tasks = np.flatnonzero(answers.answers_per_task() > 0)
    result = _train(x, answers, head, on_batch, tasks, backbone=backbone,
                    backbone_params=backbone_params, n_epochs=n_epochs, transform=transform,
                    device=device, seed=seed, threads=threads, standardize=standardize,
                    **train_params)
    total, n = state["sum"].cpu().numpy(), state["n"].cpu().numpy()
    ans_aum = np.divide(total, n, out=np.full(n_ans, np.nan), where=n > 0)
    score = state["score"].cpu().numpy()
    task_of = np.repeat(np.arange(answers.n_tasks), np.diff(answers.task_indptr))
    seen = n > 0
    num = np.bincount(task_of[seen], score[seen] * ans_aum[seen], minlength=answers.n_tasks)
    den = np.bincount(task_of[seen], score[seen], minlength=answers.n_tasks)
    values = np.divide(num, den, out=np.full(answers.n_tasks, np.nan), where=den > 0)
    recs = torch.cat(state["rec"]).numpy() if record and state["rec"] else None
    return MarginResult(values, np.full(answers.n_tasks, -1, dtype=np.int64), margin,
                        answer_aum=ans_aum, answer_weight=score, history=result.history,
                        records=recs)
