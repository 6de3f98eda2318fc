"""Small sequence taggers trained from scratch: words and characters -> BiLSTM -> tag logits.

No pretrained embeddings are needed (none are available offline): a :class:`Vocabulary` is built
from the training sentences (lower-cased words seen at least ``min_count`` times, the rest
``UNK``; a casing feature keeps what lower-casing loses; every character seen), and
:class:`BiLSTMTagger` learns

* word embeddings (with word dropout: a training token becomes ``UNK`` with a small probability,
  so that the ``UNK`` vector is learnt for the rare and unseen words of prediction time),
* a character CNN (embedding, 1-d convolution, max pooling over the word's characters),
* a casing embedding (lower, Title, UPPER, has a digit, other),
* a bidirectional LSTM over the sentence (padding at the end of every row in both directions,
  so no real token's state ever reads a padding position),
* one linear layer giving the tag logits of each token.

The tagger's output is **flat**: the logits of the real tokens of the batch, sentence after
sentence, shape ``(n_tokens, K)``; padding positions never produce a row. The crowd heads and the
training loop therefore treat a token exactly as a classification task.

Reference: the BiLSTM-CNN tagger of Ma & Hovy, "End-to-end sequence labeling via
bi-directional LSTM-CNNs-CRF" (ACL 2016), without the CRF, as the base model of the sequence crowd
layer of Rodrigues & Pereira, "Deep learning from crowds" (AAAI 2018).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import CrowdlearnError

__all__ = ["BiLSTMTagger", "SeqInput", "TokenArrays", "Vocabulary", "casing"]

PAD, UNK = 0, 1
#: casing classes of a token (0 is padding)
CASES = ("pad", "lower", "title", "upper", "digit", "other")


def casing(token: str) -> int:
    """Index in :data:`CASES` of a token's casing."""
    if any(c.isdigit() for c in token):
        return 4
    if token.islower():
        return 1
    if token.isupper():
        return 3
    if token[:1].isupper():
        return 2
    return 5


@dataclass
class TokenArrays:
    """Encoded sentences, flat over tokens: ``word``, ``case`` (n,), ``chars`` (n, C) and
    ``indptr`` (sentences + 1,): the tokens of sentence ``s`` are ``indptr[s]:indptr[s + 1]``."""

    word: np.ndarray
    case: np.ndarray
    chars: np.ndarray
    indptr: np.ndarray

    @property
    def n_tokens(self) -> int:
        return int(self.word.shape[0])

    @property
    def n_sentences(self) -> int:
        return int(self.indptr.shape[0]) - 1


@dataclass
class Vocabulary:
    """Word and character vocabularies of a tagger (index 0 padding, 1 unknown)."""

    words: list[str]
    chars: list[str]
    max_word_len: int = 20

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], min_count: int = 2,
              max_word_len: int = 20) -> Vocabulary:
        """Words (lower-cased) seen at least ``min_count`` times, every character seen."""
        if min_count < 1:
            raise CrowdlearnError(f"min_count must be at least 1, got {min_count}")
        counts = Counter(t.lower() for s in sentences for t in s)
        words = sorted(w for w, n in counts.items() if n >= min_count)
        chars = sorted({c for s in sentences for t in s for c in t})
        return cls(["<pad>", "<unk>", *words], ["<pad>", "<unk>", *chars], int(max_word_len))

    def encode(self, sentences: Sequence[Sequence[str]]) -> TokenArrays:
        """Flat word, casing and character indices of ``sentences``."""
        w_index = {w: i for i, w in enumerate(self.words)}
        c_index = {c: i for i, c in enumerate(self.chars)}
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        tokens = [t for s in sentences for t in s]
        n, width = len(tokens), self.max_word_len
        word = np.fromiter((w_index.get(t.lower(), UNK) for t in tokens), dtype=np.int64,
                           count=n)
        case = np.fromiter((casing(t) for t in tokens), dtype=np.int64, count=n)
        chars = np.zeros((n, width), dtype=np.int64)
        for i, t in enumerate(tokens):
            codes = [c_index.get(c, UNK) for c in t[:width]]
            chars[i, :len(codes)] = codes
        return TokenArrays(word, case, chars, indptr)


@dataclass
class SeqInput:
    """A padded batch of sentences: ``words``, ``cases`` (B, L), ``chars`` (B, L, C),
    ``lengths`` (B,) and ``mask`` (B, L), True at real tokens."""

    words: Tensor
    cases: Tensor
    chars: Tensor
    lengths: Tensor
    mask: Tensor

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.words.shape)

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())


class BiLSTMTagger(nn.Module):
    """Words + character CNN + casing -> BiLSTM -> tag logits of every real token.

    Parameters
    ----------
    n_words, n_chars:
        Vocabulary sizes (with padding and ``UNK``).
    n_classes:
        Number of tags ``K``.
    word_dim, char_dim, char_filters, case_dim:
        Sizes of the word embedding, character embedding, character-CNN output, casing
        embedding.
    hidden:
        LSTM units per direction.
    dropout:
        Dropout on the token representation and on the LSTM output.
    word_dropout:
        Probability that a training token's word becomes ``UNK``.

    ``forward(x)`` returns ``(x.n_tokens, K)`` logits: the real tokens of ``x`` in row-major
    order (sentence by sentence); ``features(x)`` the LSTM states before the last layer.
    """

    def __init__(self, n_words: int, n_chars: int, n_classes: int, *, word_dim: int = 64,
                 char_dim: int = 16, char_filters: int = 32, case_dim: int = 4,
                 hidden: int = 64, dropout: float = 0.5, word_dropout: float = 0.05) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0 or not 0.0 <= word_dropout < 1.0:
            raise CrowdlearnError("dropout and word_dropout must be in [0, 1)")
        self.word_emb = nn.Embedding(n_words, word_dim, padding_idx=PAD)
        self.char_emb = nn.Embedding(n_chars, char_dim, padding_idx=PAD)
        self.char_cnn = nn.Conv1d(char_dim, char_filters, kernel_size=3, padding=1)
        self.case_emb = nn.Embedding(len(CASES), case_dim, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        size = word_dim + char_filters + case_dim
        self.lstm_fw = nn.LSTM(size, hidden, batch_first=True)
        self.lstm_bw = nn.LSTM(size, hidden, batch_first=True)
        self.classifier = nn.Linear(2 * hidden, n_classes)
        self.word_dropout = float(word_dropout)
        self.embedding_dim = 2 * hidden

    def _token_repr(self, x: SeqInput) -> Tensor:
        words = x.words
        if self.training and self.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.word_dropout
            words = torch.where(drop & x.mask, torch.full_like(words, UNK), words)
        b, length, width = x.chars.shape
        chars = self.char_emb(x.chars.reshape(b * length, width)).transpose(1, 2)
        conv = self.char_cnn(chars)  # (B L, F, C)
        conv = conv.masked_fill((x.chars.reshape(b * length, 1, width) == PAD), -1e4)
        char_vec = conv.max(dim=2).values.reshape(b, length, -1)
        has_chars = (x.chars != PAD).any(dim=-1, keepdim=True)  # False at padding tokens
        char_vec = torch.where(has_chars, char_vec, torch.zeros_like(char_vec))
        return torch.cat([self.word_emb(words), char_vec, self.case_emb(x.cases)], dim=-1)

    def features(self, x: SeqInput) -> Tensor:
        """LSTM states of the real tokens, (n_tokens, 2 hidden)."""
        rep = self.drop(self._token_repr(x))
        # padding is at the end of each row: the forward LSTM reaches a real token before any
        # padding; the backward LSTM reads each sentence reversed in place (padding still last)
        steps = torch.arange(rep.shape[1], device=rep.device)
        rev = (x.lengths.to(rep.device).unsqueeze(1) - 1 - steps).where(x.mask, steps)
        rev = rev.unsqueeze(-1)
        fw, _ = self.lstm_fw(rep)
        bw, _ = self.lstm_bw(rep.gather(1, rev.expand(-1, -1, rep.shape[2])))
        bw = bw.gather(1, rev.expand(-1, -1, bw.shape[2]))
        return self.drop(torch.cat([fw, bw], dim=-1)[x.mask])

    def forward(self, x: SeqInput) -> Tensor:
        return self.classifier(self.features(x))
