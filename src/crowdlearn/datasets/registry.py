"""The registry of installable data sets: where each one comes from and how it is converted.

Every entry is a :class:`DatasetRecord` (a frozen dataclass): name, description, the files to
download (:class:`RemoteFile`: file name, URLs, SHA-256, size), the expected numbers of tasks,
workers, classes and answers, licence, citation, and the ``prepare`` function that turns the
downloaded raw files into crowdlearn's layout. :func:`crowdlearn.datasets.install` downloads
(or takes ``--from`` files), verifies and calls ``prepare``. The record types live in
:mod:`crowdlearn.datasets.record`, the table of data sets in :mod:`crowdlearn.datasets.catalog`;
this module looks records up (and re-exports both).

Checksums
---------
``sha256`` is set only for files whose bytes we have checked ourselves: the Music CSV files and
the truth-inference ``label.csv`` / ``truth.csv`` files were hashed from verbatim copies of the
upstream files (same sizes and content as the pinned GitHub commits below). CIFAR-10 and MNIST
have no SHA-256 here but carry the MD5 checksums their publishers (and torchvision) give, which
the installer checks. The other files (``deep_LabelMe.tar.gz``, ``cifar10h-raw.zip``, Snow et
al.'s ``all_collected_data.tgz``) have no known hash: the installer then prints the SHA-256 of
what it got, says that nothing was verified, and records ``"verified": "no"`` in
``metadata.json``. Nothing is ever reported as verified without a known checksum.

Installed layout (ROOT/NAME)
----------------------------
Every data set with crowd answers is a peerannot folder, readable by every crowdlearn command
(``crowdlearn info ROOT/NAME``) and by :func:`crowdlearn.io.read`:

``answers.json``
    ``{task: {worker: label}}``; tasks are integers ``0..n-1``, workers too (LabelMe keeps its
    CrowdLayer answer-matrix columns, CIFAR-10H its ``annotator_id``), labels are class
    indices. Every upstream answer is kept: several answers of one worker to one task (two
    truth-inference files have some) repeat the worker's key within the task's object, and
    ``metadata.json`` says ``"duplicates": "all"`` and counts them in ``repeated_answers``
    (crowdlearn reads them all; Python's ``json``, hence peerannot, keeps the last of each).
    The installed numbers of answers are the registry's (``crowdlearn datasets list``).
``metadata.json``
    ``name``, ``n_classes``, ``classes`` (names, index = label), ``n_workers`` (peerannot's
    meaning: worker indices are below it), ``nb_workers``, ``n_task``/``n_tasks``,
    ``n_answers``, ``kind``, ``description``, ``licence``, ``citation``, ``homepage``,
    ``layout`` (the files below and the task order), ``source`` (every input file with its
    SHA-256, URL or ``--from`` path, and how it was verified).
``truth_<name>.npy``
    True class index per task (task order, ``-1`` unknown).
``tasks.csv``, ``workers.csv``
    ``task,id`` / ``worker,id``: the upstream id of every task and worker index.
``features.npy``, ``features_test.npy``, ``test_labels.npy``
    Feature data sets (Music): row ``i`` of ``features.npy`` is task ``i``; the test rows have
    no crowd answers (``test_ids.csv`` holds their upstream ids).
``train/<class>/<stem>-<task>.<ext>``, ``val/...``, ``test/...``
    Image data sets with image files (LabelMe), as peerannot's installers write them.

Image-array data sets (the contract with :mod:`crowdlearn.datasets.images`)
---------------------------------------------------------------------------
``cifar10``, ``cifar10h`` and ``mnist`` keep the upstream binary files, unchanged, under
``ROOT/NAME/raw/``; :mod:`crowdlearn.datasets.images` decodes them (to a uint8 tensor cache):

* ``raw/cifar-10-batches-py/`` (``cifar10`` and ``cifar10h``): ``data_batch_1`` ..
  ``data_batch_5``, ``test_batch``, ``batches.meta``, the Python pickle batches exactly as in
  ``cifar-10-python.tar.gz`` (the folder name is the archive's, the layout torchvision's
  ``CIFAR10(root=ROOT/NAME/raw)`` expects). Every batch is checked at install time (``data``
  uint8 of shape (n, 3072), ``labels`` in 0..9; restricted unpickling).
* ``raw/train-images-idx3-ubyte``, ``raw/train-labels-idx1-ubyte``,
  ``raw/t10k-images-idx3-ubyte``, ``raw/t10k-labels-idx1-ubyte`` (``mnist``): the IDX files,
  decompressed (headers checked at install time).

``metadata.json`` of these sets has ``kind: "images"``, ``raw`` (format, folder, file names,
image counts) and the class names. ``cifar10`` and ``mnist`` have no crowd answers (the
experiment protocols simulate annotators on them; ``n_tasks`` counts the training images).
``cifar10h``'s tasks are the 10,000 CIFAR-10 *test* images: task ``i`` is row ``i`` of
``raw/cifar-10-batches-py/test_batch``.
"""

from __future__ import annotations

from ..errors import CrowdlearnError
from .catalog import REGISTRY
from .record import DatasetRecord, RemoteFile

__all__ = [
    "REGISTRY",
    "DatasetRecord",
    "RemoteFile",
    "get_record",
    "names",
]


def names() -> list[str]:
    """The registered data set names, in registry order."""
    return list(REGISTRY)


def get_record(name: str) -> DatasetRecord:
    """The record of data set ``name`` (or one of its aliases; case-insensitive).

    Raises
    ------
    CrowdlearnError
        Unknown name (the message lists the known ones).
    """
    key = name.strip().lower()
    if key in REGISTRY:
        return REGISTRY[key]
    for record in REGISTRY.values():
        if key in record.aliases:
            return record
    raise CrowdlearnError(f"unknown data set {name!r}; known: {', '.join(REGISTRY)} "
                          "(see 'crowdlearn datasets list')")
