"""Known (true) annotator confusions, for :func:`crowdlearn.metrics.confusion_estimation_error`.

:func:`load_true_confusions` reads known confusion matrices (``crowdlearn simulate``'s
``confusions.npy``, an ``.npz`` with ``confusions`` and ``worker_ids``) in the answers' worker
order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:
    from ..answers import Answers

__all__ = ["load_true_confusions"]


def load_true_confusions(source: str | os.PathLike[str] | np.ndarray, answers: Answers, *,
                         worker_ids: Any = None) -> np.ndarray:
    """Known confusion matrices, one per worker of ``answers``, in the answers' worker order.

    Parameters
    ----------
    source:
        A ``.npy`` file or an array of shape (workers x K x K), rows = true class (the
        ``confusions.npy`` of ``crowdlearn simulate``), or an ``.npz`` with an array
        ``confusions`` and optionally ``worker_ids`` (one id per matrix, as ``crowdlearn
        aggregate``'s ``workers_*.npz`` and :func:`write_fit_results`'s files hold them).
    answers:
        The answers whose workers the matrices describe (and whose classes they use, in
        order).
    worker_ids:
        The worker id of each matrix, when ``source`` does not carry them.

    Matrices are matched to workers

    * by id, when ids come with the matrices (``worker_ids``, or the ``.npz``);
    * otherwise, when the answers' worker ids are integers below the number of matrices,
      matrix ``m`` is the worker with id ``m``: ``crowdlearn simulate`` numbers its workers
      ``0..M-1`` and a worker without any answer is absent from the answers read back, so
      the file may hold more matrices than the answers have workers;
    * otherwise the file must hold exactly one matrix per worker, in the answers' worker order
      (:attr:`Answers.worker_ids`, the order of ``workers.csv``).

    Raises
    ------
    DataError
        Wrong shape, number of classes or workers, a worker without a matrix, or matrices whose
        rows do not sum to 1 (the message says when the columns do: transpose them).
    """
    name = "array"
    ids = worker_ids
    if isinstance(source, np.ndarray):
        conf = source
    else:
        name = os.fspath(source)
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(2, "No such file", name)
        try:
            loaded = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"not a readable .npy/.npz file ({' '.join(str(exc).split())})",
                            source=name) from exc
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if "confusions" not in loaded.files:
                    raise DataError(f"no array 'confusions' (arrays: "
                                    f"{', '.join(loaded.files) or 'none'})", source=name)
                conf = loaded["confusions"]
                if ids is None and "worker_ids" in loaded.files:
                    ids = loaded["worker_ids"]
        else:
            conf = loaded
    conf = np.asarray(conf)
    if conf.dtype.kind not in "iuf":
        raise DataError(f"confusion matrices must be numbers, got dtype {conf.dtype}",
                        source=name)
    conf = conf.astype(np.float64)
    k = answers.n_classes
    if conf.ndim != 3 or conf.shape[1] != conf.shape[2]:
        raise DataError(f"expected confusion matrices of shape (workers, K, K), got "
                        f"{conf.shape}", source=name)
    if conf.shape[1] != k:
        raise DataError(f"{conf.shape[1]} classes in the confusion matrices but {k} in the "
                        "answers", source=name)
    if not np.isfinite(conf).all() or (conf < 0).any():
        raise DataError("confusion matrices must be finite and non-negative", source=name)
    rows_ok = np.allclose(conf.sum(axis=2), 1.0, atol=1e-3)
    if not rows_ok:
        hint = (" (their columns do: transpose them, crowdlearn's rows are the true class)"
                if np.allclose(conf.sum(axis=1), 1.0, atol=1e-3) else "")
        raise DataError(f"the rows of the confusion matrices must sum to 1{hint}", source=name)

    workers = np.asarray(answers.worker_ids)
    m_file, m = conf.shape[0], answers.n_workers
    if ids is not None:
        ids = np.asarray(ids).reshape(-1)
        if len(ids) != m_file:
            raise DataError(f"{len(ids)} worker ids for {m_file} confusion matrices",
                            source=name)
        rows = _match(workers, ids)
        missing = rows < 0
        if missing.any():
            shown = ", ".join(str(w) for w in workers[missing][:3])
            raise DataError(f"no confusion matrix for {int(missing.sum())} of {m} workers "
                            f"({shown}{', ...' if missing.sum() > 3 else ''})", source=name)
        return conf[rows]
    if workers.dtype.kind in "iu" and m and int(workers.min()) >= 0 \
            and int(workers.max()) < m_file:
        return conf[workers.astype(np.intp)]
    if m_file == m:
        return conf
    raise DataError(
        f"{m_file} confusion matrices for {m} workers: without worker ids the file must hold "
        f"one matrix per worker in the answers' order, or be indexed by integer worker id "
        f"(as crowdlearn simulate writes it)", source=name)


def _match(wanted: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Position of each wanted id in ``have`` (-1 when absent); ``3`` matches ``"3"``."""
    import pandas as pd

    if (wanted.dtype.kind in "iu") != (have.dtype.kind in "iu"):
        wanted = wanted.astype(str).astype(object)
        have = have.astype(str).astype(object)
    return pd.Index(have).get_indexer(wanted)
