"""Image data sets decoded once into ``uint8`` arrays, with an on-disk ``.npy`` cache.

Three loaders return an :class:`ImageSet` of ``uint8`` arrays in the ``(N, C, H, W)`` layout that
:class:`~crowdlearn.deep.CrowdData` and :mod:`crowdlearn.deep.augment` expect (normalisation and
augmentation then happen batch by batch on the training device):

* :func:`load_cifar10` — the CIFAR-10 "python version" pickle batches (Krizhevsky, *Learning
  Multiple Layers of Features from Tiny Images*, tech. report, University of Toronto, 2009):
  50,000 training and 10,000 test images of 3 x 32 x 32. The crowd answers of CIFAR-10H (Peterson,
  Battleday, Griffiths & Russakovsky, ICCV 2019) label the 10,000 *test* images, in
  ``test_batch`` order: task ``t`` is ``test_x[t]``.
* :func:`load_mnist` — the MNIST idx files (LeCun, Bottou, Bengio & Haffner, "Gradient-based
  learning applied to document recognition", Proc. IEEE 86(11), 1998), raw or gzip-compressed;
  Fashion-MNIST and the other idx-format sets read the same way.
* :func:`load_image_folder` — folders of class folders: the layout that peerannot's installers
  write (``train/<class>/*.png`` + ``val/`` + ``test/``; Lefort, Charlier, Joly & Salmon,
  *Peerannot: classification for crowdsourced image datasets with Python*, Computo 2024) and
  Food-11 (Singla, Yuan & Ebrahimi, "Food/Non-food image classification and food categorization
  using pre-trained GoogLeNet model", MADiMa 2016: ``training/``, ``validation/``,
  ``evaluation/``), both its original flat files ``<class>_<n>.jpg`` and the Kaggle variant with
  one sub-folder per class. (Food-101, Bossard, Guillaumin & Van Gool, ECCV 2014, lists its
  splits in ``meta/train.txt`` instead; it is not a folder-of-class-folders layout.)

**Cache.** Decoding 50,000 PNGs or unpickling CIFAR takes seconds to minutes; it is done once. The
arrays are saved as ``.npy`` files in the user's cache folder, never in the data folder:
``<cache>/images/<loader>[-<parameters>]-<hash of the folder given to the loader>/`` where
``<cache>`` is :func:`default_cache_dir` (``$CROWDLEARN_CACHE``, else
``$XDG_CACHE_HOME/crowdlearn``, else ``~/.cache/crowdlearn``), written atomically next to a
``fingerprint.json``
that records the size and modification time of every source file; later calls memory-map them
(copy-on-write: the arrays are writable, the cache never changes). Any change of a source file
(size, mtime, a file added or removed) invalidates the entry and the data are decoded again.
``cache=False`` skips the cache; ``cache_dir=`` puts the entries in another folder; a cache
that cannot be written only warns.

Every problem with the input (a missing or corrupt file, a wrong magic number, images of mixed
sizes) is a one-line :class:`~crowdlearn.errors.DataError` naming the file.

**Package layout.** :mod:`.imageset` (the :class:`ImageSet` container), :mod:`.cache` (the
``.npy`` cache and its fingerprints), :mod:`.cifar10` (:func:`load_cifar10` and its restricted
unpickler), :mod:`.mnist` (:func:`load_mnist` and the idx reader), :mod:`.image_folder`
(:func:`load_image_folder`: layout scanning and threaded decoding) and :mod:`.helpers` (the
``PathLike`` alias and small shared helpers). Every name is importable from
``crowdlearn.datasets.images`` itself.
"""

from __future__ import annotations

# The public API (__all__) plus every other name that the single-module
# crowdlearn.datasets.images defined (constants, private helpers), so that every old import
# keeps working. To replace a helper in a test (monkeypatch), patch it in the submodule that
# looks it up, e.g. images.cache._write_entry or images.cifar10._decode_cifar10.
from .cache import (  # noqa: F401
    _ARRAYS,
    _CACHE_VERSION,
    ENV_CACHE,
    _entry_folder,
    _entry_name,
    _fingerprint,
    _read_entry,
    _through_cache,
    _write_entry,
    default_cache_dir,
)
from .cifar10 import (  # noqa: F401
    _CIFAR_FILES,
    _CIFAR_FOLDER,
    _CIFAR_TAR,
    _CIFAR_TRAIN,
    _NUMPY2,
    _PICKLE_ALLOWED,
    CIFAR10_CLASSES,
    _cifar_batch,
    _CifarSource,
    _decode_cifar10,
    _find_cifar10,
    _key,
    _SafeUnpickler,
    _unpickle,
    load_cifar10,
)
from .helpers import (  # noqa: F401
    PathLike,
    _one_line,
    _require_folder,
)
from .image_folder import (  # noqa: F401
    _FLAT_NAME,
    _INDEX_NAME,
    _SPLIT_NAMES,
    FOOD11_CLASSES,
    IMAGE_EXTENSIONS,
    _decode_image,
    _decode_image_folder,
    _find_image_root,
    _find_split,
    _image_size,
    _is_image,
    _peerannot_index,
    _scan_split,
    _size_hw,
    _visible,
    _walk_images,
    load_image_folder,
)
from .imageset import (  # noqa: F401
    ImageSet,
    _id_text,
)
from .mnist import (  # noqa: F401
    _MNIST_FILES,
    _decode_mnist,
    _find_mnist,
    _mnist_variants,
    _read_idx,
    load_mnist,
)

__all__ = [
    "CIFAR10_CLASSES", "FOOD11_CLASSES", "IMAGE_EXTENSIONS", "ImageSet", "load_cifar10",
    "load_image_folder", "load_mnist",
]
