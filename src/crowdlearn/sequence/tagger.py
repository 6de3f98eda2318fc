"""Deep learning from crowd tag sequences: :class:`CrowdTagger` (torch is imported in ``fit``).

A small BiLSTM tagger over words and characters (:mod:`crowdlearn.deep.taggers`), trained from
scratch by the one training loop (:func:`crowdlearn.deep.train.train`) either

* end to end through the **crowd layer** for sequences (Rodrigues & Pereira, "Deep learning from
  crowds", AAAI 2018): a K x K matrix per annotator (MW, initialised at the identity) applied to
  the tagger's softmax at every token, trained with the cross-entropy of the observed tags only
  (missing annotators and padding contribute nothing); or
* in two stages: the tokens' answers aggregated by any label strategy of
  :mod:`crowdlearn.aggregate` (token majority vote ``mv``, Dawid-Skene ``ds``, ...), then the
  tagger trained on the aggregated tags.

Model selection never sees true tags: the epoch kept is the one with the lowest loss on the
crowd answers of held-out sentences (held-out documents when ``groups`` are given).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..answers import Answers
from ..errors import CrowdlearnError
from ..params import Bool, Custom, Float, Int, Seed, check_params, specs_of

__all__ = ["CrowdTagger", "split_groups"]


def split_groups(groups: Sequence[Any], val_fraction: float, seed: int | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) split of sentence indices by group (document): every
    sentence of a group falls on the same side; both sorted."""
    if not 0.0 <= val_fraction < 1.0:
        raise CrowdlearnError(f"val_fraction must be in [0, 1), got {val_fraction}")
    _, codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    n_val = int(round(val_fraction * n_groups))
    if n_val and n_groups - n_val < 1:
        n_val = n_groups - 1
    val_groups = np.random.default_rng(seed).permutation(n_groups)[:n_val]
    is_val = np.isin(codes, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def resolve_device_type(device: Any) -> str:
    """``"cpu"`` or ``"cuda"``: where ``device`` (``"auto"`` included) trains."""
    from ..deep.data import resolve_device

    return resolve_device(device).type


class CrowdTagger:
    """Sequence tagger learnt from crowd tags (Rodrigues & Pereira, AAAI 2018), sklearn style.

    Parameters
    ----------
    strategy:
        ``"crowdlayer"`` (end to end, MW crowd layer), or the name of a label strategy whose
        token labels the tagger is trained on (two-stage): ``"mv"``, ``"ds"``, ``"ibcc"``, ...
    soft:
        Two-stage: train on the aggregator's posteriors instead of its hard labels.
    min_count:
        Words seen fewer times in the training sentences are ``UNK``.
    word_dim, char_filters, hidden, dropout:
        Tagger sizes (:class:`~crowdlearn.deep.taggers.BiLSTMTagger`).
    n_epochs, batch_size, lr:
        Adam training: epochs (a cap: ``patience`` normally stops earlier), sentences per batch,
        learning rate. On ner-mturk the held-out crowd loss bottomed at epoch 34 (crowd layer),
        32 (MV-trained) and 27 (DS-trained) on one document fold (40 epochs, no early stop):
        the cap of 60 leaves the choice to the held-out crowd answers.
    head_lr:
        Learning rate of the crowd layer (``None``: ``10 * lr``). Its logits are the tagger's
        probabilities times the worker's matrix, bounded at the identity start; a slow layer
        leaves them soft.
    warm_start:
        Crowd layer only: epochs of training the tagger on the token majority-vote tags before
        the crowd layer is put on top (the recipe of Rodrigues & Pereira's public CoNLL code,
        5 epochs; ``0``: none). Without it the tagger, facing near-uniform annotator outputs
        at the identity start, settles on the dominant ``O`` tag: on ner-mturk (document CV,
        12 epochs, no warm start) span F1 0.0 at ``head_lr=lr``, 22.7 at ``10 * lr``; with
        the default 5 epochs 60.0 (12 epochs), 59.4 with early-stopped epochs (below the
        MV-trained tagger's 61.8 then; ``benchmarks/sequence_taggers.py``).
    val_fraction:
        Share of sentences (of groups, when ``fit`` gets ``groups``) held out for the selection
        of the epoch by their crowd answers' loss; ``0``: keep the last epoch.
    patience:
        Stop once the held-out loss has not improved for this many epochs (``None``: never).
    device:
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    amp:
        Mixed precision on CUDA.
    seed:
        Seed of the initial weights, the validation split and the batch order.
    threads:
        CPU threads of torch during ``fit`` and ``predict`` (restored afterwards); ``"auto"``:
        one on the CPU (the small tagger's LSTM steps gain nothing from more and lose much on a
        busy machine), torch's setting on a GPU; ``None``: torch's setting.

    Attributes after ``fit``: ``classes_`` (tag names), ``vocabulary_``, ``model_`` (tagger +
    crowd head), ``result_`` (:class:`~crowdlearn.deep.train.TrainResult`), ``confusions_``
    (workers x K x K, crowd layer or aggregator; ``None`` when the strategy has none),
    ``warm_result_`` (the majority-vote warm start's training result, ``None`` without one),
    ``worker_ids_``, ``device_``, ``fit_seconds_``.

    Examples
    --------
    >>> from crowdlearn.answers import Answers
    >>> sents = [["Paris", "is", "nice"], ["Bob", "runs"]] * 20
    >>> tags = [["B-LOC", "O", "O"], ["B-PER", "O"]] * 20
    >>> flat = [t for s in tags for t in s]
    >>> a = Answers.from_arrays(list(range(len(flat))), ["w1"] * len(flat), flat)
    >>> tagger = CrowdTagger("mv", n_epochs=30, val_fraction=0, device="cpu").fit(sents, a)
    >>> tagger.predict([["Paris", "is", "nice"]])
    [['B-LOC', 'O', 'O']]
    """

    param_specs = {
        "strategy": Custom("crowdlayer or a label strategy name (mv, ds, ...)",
                           lambda v: isinstance(v, str), bad=(3,)),
        "device": Custom("a device name (auto, cpu, gpu, cuda:N) or a torch.device",
                         lambda v: isinstance(v, str) or type(v).__name__ == "device", bad=(3,)),
        "soft": Bool(), "min_count": Int(1), "word_dim": Int(1), "char_filters": Int(1),
        "hidden": Int(1), "dropout": Float(0.0, 1.0, high_open=True), "n_epochs": Int(1),
        "batch_size": Int(1), "lr": Float(0.0, low_open=True),
        "head_lr": Float(0.0, low_open=True, none=True),
        "val_fraction": Float(0.0, 1.0, high_open=True), "patience": Int(1, none=True),
        "warm_start": Int(0),
        "amp": Bool(), "seed": Seed(objects=False), "verbose": Bool(),
        "threads": Int(1, none=True, also=("auto",)),
    }

    def __init__(self, strategy: str = "crowdlayer", *, soft: bool = False, min_count: int = 2,
                 word_dim: int = 64, char_filters: int = 32, hidden: int = 64,
                 dropout: float = 0.5, n_epochs: int = 60, batch_size: int = 32,
                 lr: float = 2e-3, head_lr: float | None = None, warm_start: int = 5,
                 val_fraction: float = 0.1,
                 patience: int | None = 5,
                 device: Any = "auto", amp: bool = True, seed: int | None = 0,
                 threads: int | str | None = "auto", verbose: bool = False) -> None:
        self.strategy = strategy
        self.soft = soft
        self.min_count = min_count
        self.word_dim = word_dim
        self.char_filters = char_filters
        self.hidden = hidden
        self.dropout = dropout
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr = head_lr
        self.warm_start = warm_start
        self.val_fraction = val_fraction
        self.patience = patience
        self.device = device
        self.amp = amp
        self.seed = seed
        self.threads = threads
        self.verbose = verbose

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "strategy", "soft", "min_count", "word_dim", "char_filters", "hidden", "dropout",
            "n_epochs", "batch_size", "lr", "head_lr", "warm_start", "val_fraction", "patience",
            "device", "amp", "seed", "threads", "verbose")}

    def set_params(self, **params: Any) -> CrowdTagger:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"CrowdTagger has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"CrowdTagger(strategy={self.strategy!r})"

    # ------------------------------------------------------------------ fit
    @contextmanager
    def _threads(self) -> Iterator[None]:
        import torch

        saved = torch.get_num_threads()
        if self.threads == "auto":
            wanted = 1 if resolve_device_type(self.device) == "cpu" else saved
        else:
            wanted = saved if self.threads is None else int(self.threads)
        torch.set_num_threads(wanted)
        try:
            yield
        finally:
            torch.set_num_threads(saved)

    def _head(self, n_classes: int, n_workers: int):
        from ..deep.heads import make_head

        name = str(self.strategy).lower().replace("_", "-")
        if name in ("crowdlayer", "crowd-layer"):
            return make_head("crowdlayer", n_classes=n_classes, n_workers=n_workers,
                             conn_type="MW")
        from ..aggregate import available

        if name not in available():
            raise CrowdlearnError(
                f"unknown sequence strategy {self.strategy!r}: crowdlayer, or a label strategy "
                f"({', '.join(available())}) for two-stage training")
        return make_head("two-stage", n_classes=n_classes, n_workers=n_workers,
                         aggregator=name, soft=bool(self.soft), seed=self.seed)

    def fit(self, data: Any, answers: Answers | None = None,
            groups: Sequence[Any] | None = None) -> CrowdTagger:
        """Learn from crowd tags.

        Parameters
        ----------
        data:
            :class:`~crowdlearn.sequence.SequenceAnswers` (its documents are the validation
            groups; its gold tags are never read), or the training sentences as lists of token
            strings, with ``answers``.
        answers:
            With sentences: token-level answers whose task ``i`` is the ``i``-th token of the
            concatenated sentences (untagged tokens have no answer).
        groups:
            With sentences: optional document (or any group) of each sentence: the validation
            split holds out whole groups.
        """
        from ..deep.data import resolve_device
        from ..deep.sequence import SequenceCrowdData
        from ..deep.taggers import BiLSTMTagger, Vocabulary
        from ..deep.train import CrowdModel, TrainConfig, seed_everything, train

        sentences, answers, groups = _training_input(data, answers, groups)
        check_params("CrowdTagger", specs_of(type(self)), self.get_params())
        start = time.perf_counter()
        n_tokens = sum(len(s) for s in sentences)
        if answers.n_tasks != n_tokens:
            raise CrowdlearnError(f"{answers.n_tasks} token tasks for {n_tokens} tokens in "
                                  f"{len(sentences)} sentences")
        if answers.n_answers == 0:
            raise CrowdlearnError("no answers to learn from")
        if groups is not None and len(groups) != len(sentences):
            raise CrowdlearnError(f"{len(groups)} groups for {len(sentences)} sentences")
        self.classes_ = np.asarray(answers.classes)
        self.worker_ids_ = np.asarray(answers.worker_ids)
        self.device_ = resolve_device(self.device)
        head = self._head(answers.n_classes, answers.n_workers)  # checks the strategy first
        train_s, val_s = split_groups(range(len(sentences)) if groups is None else groups,
                                      self.val_fraction, self.seed)
        self.vocabulary_ = vocab = Vocabulary.build([sentences[i] for i in train_s],
                                                    self.min_count)
        tokens = vocab.encode(sentences)
        data = SequenceCrowdData(tokens, answers, self.device_)
        seed_everything(self.seed)
        tagger = BiLSTMTagger(len(vocab.words), len(vocab.chars), answers.n_classes,
                              word_dim=self.word_dim, char_filters=self.char_filters,
                              hidden=self.hidden, dropout=self.dropout)
        model = CrowdModel(tagger, head).to(self.device_)
        indptr = tokens.indptr

        def token_tasks(sents: np.ndarray) -> np.ndarray:
            if not len(sents):
                return np.zeros(0, dtype=np.int64)
            return np.concatenate([np.arange(indptr[s], indptr[s + 1]) for s in sents])

        val_tasks = token_tasks(val_s)
        cfg = TrainConfig(n_epochs=self.n_epochs, batch_size=self.batch_size, optimizer="adam",
                          lr=self.lr, weight_decay=0.0,
                          head_lr=10 * self.lr if self.head_lr is None else self.head_lr,
                          amp=bool(self.amp), grad_clip=5.0,
                          selection="val_loss" if len(val_tasks) else "last",
                          patience=self.patience if len(val_tasks) else None,
                          eval_batch_size=256, verbose=bool(self.verbose))
        self.warm_result_ = None
        with self._threads():
            if head.uses_answers and self.warm_start:
                self.warm_result_ = self._warm_start(tagger, data, answers, token_tasks(train_s),
                                                     cfg)
            self.result_ = train(model, data, answers, token_tasks(train_s), val_tasks, cfg,
                                 seed=self.seed)
        self.model_ = model
        conf = head.confusions()
        self.confusions_ = None if conf is None else conf.detach().cpu().numpy()
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _warm_start(self, tagger: Any, data: Any, answers: Answers, train_tasks: np.ndarray,
                    cfg: Any) -> Any:
        """Train ``tagger`` in place for ``warm_start`` epochs on token majority-vote tags."""
        from dataclasses import replace

        from ..deep.heads import make_head
        from ..deep.train import CrowdModel, train

        mv = make_head("two-stage", n_classes=answers.n_classes, n_workers=answers.n_workers,
                       aggregator="mv", soft=False, seed=self.seed)
        warm = replace(cfg, n_epochs=int(self.warm_start), selection="last", patience=None,
                       head_lr=None)
        return train(CrowdModel(tagger, mv).to(self.device_), data, answers, train_tasks,
                     np.zeros(0, dtype=np.int64), warm, seed=self.seed)

    # ------------------------------------------------------------------ predict
    def predict_proba(self, sentences: Any) -> list[np.ndarray]:
        """Per sentence (lists of token strings, or a ``SequenceAnswers``' sentences), the
        (tokens x K) tag probabilities of the tagger."""
        from ..deep.sequence import SequenceCrowdData, predict_tokens

        if not hasattr(self, "model_"):
            raise CrowdlearnError("CrowdTagger is not fitted: call fit first")
        sentences = _sentences_of(sentences)
        tokens = self.vocabulary_.encode(sentences)
        empty = Answers(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32),
                        task_ids=np.arange(tokens.n_tokens),
                        worker_ids=np.zeros(0, dtype=np.int64), classes=self.classes_)
        data = SequenceCrowdData(tokens, empty, self.device_)
        with self._threads():
            probs = predict_tokens(self.model_.backbone, data, amp=bool(self.amp))
        if probs.shape[0] == 0:
            probs = np.zeros((0, len(self.classes_)), dtype=np.float32)
        return np.split(probs, tokens.indptr[1:-1])

    def predict(self, sentences: Any) -> list[list[str]]:
        """Per sentence, the predicted tag of each token (tag names)."""
        return [[str(self.classes_[k]) for k in p.argmax(axis=1)]
                for p in self.predict_proba(sentences)]


def _sentences_of(data: Any) -> list[list[str]]:
    """Token strings per sentence of a ``SequenceAnswers`` or of a list of sentences."""
    if hasattr(data, "sentence_indptr") and hasattr(data, "words"):
        words = [str(w) for w in data.words]
        ptr = data.sentence_indptr
        return [words[ptr[i]:ptr[i + 1]] for i in range(len(ptr) - 1)]
    return [[str(t) for t in s] for s in data]


def _training_input(data: Any, answers: Answers | None, groups: Sequence[Any] | None
                    ) -> tuple[list[list[str]], Answers, Any]:
    if hasattr(data, "tokens") and isinstance(data.tokens, Answers):  # SequenceAnswers
        if answers is not None:
            raise CrowdlearnError("give SequenceAnswers alone, or sentences with answers")
        groups = data.sentence_doc if groups is None else groups
        return _sentences_of(data), data.tokens.with_truth(None), groups
    if answers is None:
        raise CrowdlearnError("sentences need their token answers (answers=...)")
    return _sentences_of(data), answers, groups
