"""Sequence crowd data for the one training loop: a token is a task, a sentence a batching unit.

:class:`SequenceCrowdData` is a :class:`~crowdlearn.deep.data.CrowdData` whose tasks are the
tokens of sentences (in sentence order: the tokens of sentence ``s`` are tasks
``indptr[s]:indptr[s + 1]``) and whose batches are whole sentences: ``batch.x`` is a padded
:class:`~crowdlearn.deep.taggers.SeqInput`, ``batch.tasks`` the batch's real tokens in row-major
order (the order of the tagger's flat logits), and ``batch.rows``/``workers``/``labels`` the crowd
answers of those tokens. A padding position has no row and no answer; a worker who did not tag
a sentence has no answer there: both contribute exactly nothing to any crowd head's loss (the
masked sequence cross-entropy of Rodrigues & Pereira, AAAI 2018, for the crowd layer).

Every crowd head of :mod:`crowdlearn.deep.heads` works on such batches unchanged (the crowd
layer's per-worker matrix is applied per token; two-stage training reads the aggregated label of
each token task).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..answers import Answers
from ..errors import CrowdlearnError
from .data import CrowdData
from .taggers import SeqInput, TokenArrays

__all__ = ["SequenceCrowdData", "predict_tokens"]

#: batches sorted by sentence length together (see :meth:`SequenceCrowdData.batches`)
BUCKET = 20


class SequenceCrowdData(CrowdData):
    """Encoded sentences and their token-level crowd answers on one device.

    Parameters
    ----------
    tokens:
        The sentences' encoded tokens (:meth:`~crowdlearn.deep.taggers.Vocabulary.encode`).
    answers:
        Token-level answers: task ``i`` is the ``i``-th token of ``tokens`` (flat order);
        ``answers.n_tasks`` must equal the number of tokens (tokens nobody tagged are tasks
        without answers).
    device:
        Where the tensors live.
    """

    def __init__(self, tokens: TokenArrays, answers: Answers, device: Any = "cpu") -> None:
        if answers.n_tasks != tokens.n_tokens:
            raise CrowdlearnError(
                f"{answers.n_tasks} token tasks for {tokens.n_tokens} tokens: the answers' tasks "
                "must be the sentences' tokens in order")
        super().__init__(tokens.word, answers, device)
        dev = self.device
        self.case = torch.as_tensor(tokens.case, device=dev)
        self.chars = torch.as_tensor(tokens.chars, device=dev)
        self.sent_indptr = torch.as_tensor(tokens.indptr, dtype=torch.int64, device=dev)
        lengths = self.sent_indptr[1:] - self.sent_indptr[:-1]
        self.sent_lengths = lengths
        self.n_sentences = int(lengths.shape[0])
        self.token_sentence = torch.repeat_interleave(
            torch.arange(self.n_sentences, device=dev), lengths, output_size=tokens.n_tokens)

    # ------------------------------------------------------------------ batching
    def sentences_of(self, tasks: Tensor) -> Tensor:
        """The sentences (sorted, unique) that contain tokens ``tasks``."""
        return torch.unique(self.token_sentence[tasks])

    def n_units(self, tasks: Tensor) -> int:
        """Batching units among ``tasks``: their sentences."""
        return int(self.sentences_of(tasks).numel())

    def sentence_tokens(self, sents: Tensor) -> Tensor:
        """The token tasks of sentences ``sents``, sentence after sentence."""
        lens = self.sent_lengths[sents]
        total = int(lens.sum())
        row = torch.repeat_interleave(torch.arange(sents.shape[0], device=self.device), lens,
                                      output_size=total)
        first = torch.cumsum(lens, 0) - lens
        return torch.arange(total, device=self.device) - first[row] + self.sent_indptr[sents][row]

    def items(self, idx: Tensor, train: bool = False) -> SeqInput:
        """Padded input of the whole sentences whose tokens are ``idx`` (in sentence order)."""
        sent = self.token_sentence[idx]
        new = torch.ones_like(sent, dtype=torch.bool)
        new[1:] = sent[1:] != sent[:-1]
        row = torch.cumsum(new.long(), 0) - 1
        sents = sent[new]
        lengths = self.sent_lengths[sents]
        if int(lengths.sum()) != idx.shape[0]:
            raise CrowdlearnError("a sequence batch must hold whole sentences")
        pos = idx - self.sent_indptr[sent]
        b, width = int(sents.shape[0]), int(lengths.max()) if len(sents) else 0
        words = torch.zeros(b, width, dtype=torch.int64, device=self.device)
        cases = torch.zeros_like(words)
        chars = torch.zeros(b, width, self.chars.shape[1], dtype=torch.int64, device=self.device)
        words[row, pos] = self.x[idx]
        cases[row, pos] = self.case[idx]
        chars[row, pos] = self.chars[idx]
        mask = torch.zeros(b, width, dtype=torch.bool, device=self.device)
        mask[row, pos] = True
        return SeqInput(words, cases, chars, lengths, mask)

    def batches(self, tasks: Tensor, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None, train: bool = False,
                drop_last: bool = False, shard: tuple[int, int] | None = None):
        """Batches of ``batch_size`` whole sentences (those containing ``tasks``).

        Sentences of similar length go together (sorted by length within windows of
        ``BUCKET`` batches, in a seeded random order when ``shuffle``), so that a batch has
        little padding and the LSTM few steps. ``shard=(rank, world_size)``: every
        ``world_size``-th sentence of each batch from ``rank`` (data-parallel training).
        """
        sents = self.sentences_of(tasks)
        if shuffle:
            sents = sents[torch.randperm(sents.shape[0], generator=generator).to(sents.device)]
        n = sents.shape[0]
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        sents = sents[:stop]
        window = batch_size * BUCKET
        chunks = []
        for start in range(0, stop, window):
            part = sents[start:start + window]
            order = torch.sort(self.sent_lengths[part], stable=True).indices
            chunks.extend(part[order].split(batch_size))
        if shuffle and chunks:
            chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator)]
        for chunk in chunks:
            if shard is not None:
                chunk = chunk[shard[0]::shard[1]]
            yield self.batch(self.sentence_tokens(chunk), train=train)


@torch.no_grad()
def predict_tokens(backbone: torch.nn.Module, data: SequenceCrowdData, *,
                   batch_size: int = 256, amp: bool = False) -> np.ndarray:
    """Tag probabilities (n_tokens, K) of every token of ``data`` in evaluation mode."""
    from .train import _autocast

    was = backbone.training
    backbone.eval()
    out: Tensor | None = None
    every = torch.arange(data.n_tasks, device=data.device)
    for batch in data.batches(every, batch_size):
        with _autocast(data.device, amp):
            logits = backbone(batch.x)
        if out is None:
            out = torch.zeros(data.n_tasks, logits.shape[1])
        out[batch.tasks.cpu()] = torch.softmax(logits.float(), dim=-1).cpu()
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    backbone.train(was)
    return out.numpy()
