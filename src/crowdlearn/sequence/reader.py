"""Reading crowd tag sequences from CoNLL-style folders.

Layout (Rodrigues et al. 2014's crowd NER data as distributed with Nguyen et al. 2017's code)::

    ROOT/ground_truth/DOC.txt            gold tags (optional)
    ROOT/mturk_train_data/WORKER/DOC.txt one worker's tags of document DOC

Each file has one token a line, ``token tag`` (further middle columns, as in CoNLL-2003's
``token POS chunk tag``, are ignored: the first field is the token, the last the tag), and a blank
line between sentences. The generic layout ``ROOT/gold/`` + ``ROOT/workers/WORKER/`` is
recognised too, and any folder names can be given (``gold_dir``, ``workers_dir``).

The reference sentences of a document are those of its gold file when there is one, else derived
from its workers' files (:func:`crowdlearn.sequence.align.reference_from_workers`); every worker
sentence is matched with one of them by the rule of :mod:`crowdlearn.sequence.align`, and those
that cannot be matched are dropped and counted (:class:`AlignmentReport`), never guessed.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from .align import ALIGN_MODES, match_file, reference_from_workers
from .data import AlignmentReport, SequenceAnswers
from .tags import check_tag

#: (gold folder, workers folder) names tried in this order when none are given
LAYOUTS: tuple[tuple[str, str], ...] = (("ground_truth", "mturk_train_data"),
                                        ("gold", "workers"))

Sentences = list[tuple[list[str], list[str]]]


def read_conll(path: str | os.PathLike[str]) -> Sentences:
    """The sentences of one CoNLL file as ``(tokens, tags)`` pairs.

    A line of one field that is a tag is a token with empty text (worker files hold such lines
    where a token was split). A tag that is not BIO, a line whose number of fields differs from
    the file's first token line (other than that case), or bytes that are not UTF-8 are a
    :class:`DataError` naming the file and line.
    """
    src = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=src) \
            from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", source=src) from None
    out: Sentences = []
    toks: list[str] = []
    tags: list[str] = []
    width = 0
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            if toks:
                out.append((toks, tags))
                toks, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        if len(fields) == 1:
            check_tag(fields[0], source=src, where=f"line {n}")
            toks.append("")
            tags.append(fields[0])
            continue
        if not width:
            width = len(fields)
        elif len(fields) != width:
            raise DataError(f"{len(fields)} fields where the file's lines have {width} "
                            "(token ... tag)", source=src, where=f"line {n}")
        tags.append(check_tag(fields[-1], source=src, where=f"line {n}"))
        toks.append(fields[0])
    if toks:
        out.append((toks, tags))
    return out


def _txt_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix == ".txt" and not p.name.startswith(".")}


def find_layout(root: str | os.PathLike[str], gold_dir: str | None = None,
                workers_dir: str | None = None) -> tuple[Path | None, Path] | None:
    """``(gold folder or None, workers folder)`` of a sequence data set, or ``None`` when
    ``root`` is not one (a folder whose workers folder holds sub-folders of ``.txt`` files)."""
    root = Path(root)
    if not root.is_dir():
        return None
    pairs = [(gold_dir or LAYOUTS[0][0], workers_dir)] if workers_dir else \
        [(gold_dir or g, w) for g, w in LAYOUTS]
    for g, w in pairs:
        wd = root / w
        if wd.is_dir() and any(p.is_dir() and any(p.glob("*.txt")) for p in wd.iterdir()):
            gd = root / g
            return (gd if gd.is_dir() else None), wd
    return None


def read_sequences(
    root: str | os.PathLike[str],
    *,
    gold_dir: str | None = None,
    workers_dir: str | None = None,
    align: str = "text",
    tags: list[str] | None = None,
    name: str | None = None,
) -> SequenceAnswers:
    """Read a CoNLL-style crowd folder into :class:`SequenceAnswers` (see the module layout).

    Parameters
    ----------
    root:
        The data set folder.
    gold_dir, workers_dir:
        Folder names inside ``root`` (default: ``ground_truth`` + ``mturk_train_data``, else
        ``gold`` + ``workers``). The gold folder is optional.
    align:
        ``"text"`` (default): a worker sentence is kept when its text matches the reference
        sentence's (:mod:`crowdlearn.sequence.align`); ``"length"``: also when only its number
        of tokens matches.
    tags:
        The tag set (default: from the data).
    """
    if align not in ALIGN_MODES:
        raise DataError(f"align must be one of {', '.join(ALIGN_MODES)}, got {align!r}",
                        field="align")
    root = Path(root)
    layout = find_layout(root, gold_dir, workers_dir)
    if layout is None:
        names = f"{workers_dir}/" if workers_dir else " or ".join(f"{w}/" for _, w in LAYOUTS)
        raise DataError(f"not a sequence data set: no {names} folder of per-worker folders of "
                        ".txt files", source=str(root))
    gd, wd = layout
    gold = {d: read_conll(p) for d, p in _txt_files(gd).items()} if gd else {}
    workers = sorted(p.name for p in wd.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: dict[str, list[tuple[str, Sentences]]] = {}
    for w in workers:
        for d, p in _txt_files(wd / w).items():
            files.setdefault(d, []).append((w, read_conll(p)))
    docs = sorted(set(gold) | set(files))
    sentences: list[list[str]] = []
    gold_tags: list[list[str] | None] = []
    sentence_doc: list[int] = []
    answers: list[tuple[int, str, list[str]]] = []
    counts = {"exact": 0, "annotated": 0, "retokenised": 0, "length_only": 0}
    unaligned: list[tuple[str, str, int, str]] = []
    for k, d in enumerate(docs):
        doc_files = files.get(d, [])
        if d in gold:
            ref = [t for t, _ in gold[d]]
            gold_tags += [g for _, g in gold[d]]
        else:
            ref = reference_from_workers([[t for t, _ in f] for _, f in doc_files])
            gold_tags += [None] * len(ref)
        first = len(sentences)
        sentences += ref
        sentence_doc += [k] * len(ref)
        for w, f in doc_files:
            matches = match_file(ref, [t for t, _ in f], [g for _, g in f], align)
            for i, (j, got, kind) in enumerate(matches):
                if got is None:
                    unaligned.append((w, d, i, kind))
                else:
                    counts[kind] += 1
                    answers.append((first + j, w, got))
    report = AlignmentReport(**counts, unaligned=len(unaligned),
                             unaligned_items=tuple(unaligned),
                             reference=("gold" if set(gold) >= set(docs) else "workers"
                                        if not gold else "gold and workers"))
    return SequenceAnswers.from_sentences(
        sentences, answers, gold=gold_tags, tags=tags, sentence_doc=sentence_doc, doc_ids=docs,
        alignment=report, name=name or root.resolve().name, source=str(root))
