"""The experiment protocols of the CCEM paper, one function each, and :func:`run_experiment`.

Ibrahim, Nguyen & Fu, "Deep learning from crowdsourced labels: coupled cross-entropy
minimization, identifiability, and regularization", ICLR 2023. Each protocol function loads a
data set, builds (or reads) its crowd answers and returns an :class:`Experiment`: training items
in the answers' task order, the answers (with the truth), test items and labels, the true
annotator confusions when they are known, and the :class:`~crowdlearn.deep.CrowdClassifier`
settings of the paper. :func:`run_experiment` trains and scores it and writes the output folder
of ``crowdlearn fit``; ``crowdlearn experiment NAME`` is the same from the command line.

=====================  =================================================================
``cifar10-synthetic``  CIFAR-10, simulated annotators (separable-and-uniform), ResNet-9
``mnist-machine``      MNIST labelled by 15 machine classifiers, ~90% answers missing, LeNet
``food11``             Food-11 image folders, simulated annotators, pretrained ResNet-50
``music``              Music genres, 44 Mechanical Turk workers, MLP on 124 audio features
``labelme``            LabelMe scenes, 59 Mechanical Turk workers, MLP on VGG-16 features
=====================  =================================================================

Settings and where they come from
---------------------------------
Official code: https://github.com/shahanaibrahimosu/end-to-end-crowdsourcing, commit
``35c01c53e27e`` (files named below); "seed README": the README of the unofficial PyTorch
implementation that crowdlearn's command line follows (its example commands).

cifar10-synthetic (``main_synthetic_cifar10.py``, ``algorithms/trainer_proposed.py``,
``helpers/data_load.py``, ``results/cifar10_synthetic/log_Sep-28-2022_...txt``)
    M = 5 annotators, ``conf_mat_type='separable-and-uniform'``, gamma = 0.01
    (``helpers/functions.py: generate_confusion_matrices``, crowdlearn's ``separable-uniform``);
    the released log runs ``annotator_label_pattern='per-sample-budget'`` with ``l=1``: each
    image is labelled by **one** annotator drawn at random (``--answers-per-task 1``, the
    default here; ``all`` or ``--p`` give the other designs). ResNet-9
    (``classifier_NN='resnet9'``); ``VOLMINEECS_LOGDETH`` = GeoCrowdNet(F); the hyperparameter
    "tuning" list the script uses for CIFAR-10 is lambda = 0.01, learning rate 0.001 (the log:
    "Training with lambda=0.01 learning_rate = 0.001"); ``n_epoch=80``, ``batch_size=400``;
    ``optim.Adam(lr, weight_decay=1e-4)`` with ``OneCycleLR(max_lr=lr, epochs=80)`` stepped
    every batch (the SGD and MultiStepLR [30, 60] lines are commented out); 95/5
    training/validation split (``split_per=0.95``); the model of the epoch with the best
    validation **accuracy** (true labels of the validation images) is tested.
mnist-machine (``main_machine_mnist.py``, ``helpers/functions.py:
generate_machine_classifier_annotations``)
    10,000 random training images train M = 15 machine annotators (linear / RBF / polynomial
    SVMs, k-NN with k = 3, 5, 7, small CNNs and MLPs trained 5-20 epochs, logistic
    regressions), each on 100-400 random images of that pool (two of them on 9,000), with Adam
    (lr 0.001, weight decay 1e-3, batch 512); N = 1,000 other training images (the
    ``--N`` default; the code's comments mention 5,000-15,000 too) are labelled by every
    annotator and each label is kept with probability p = 0.1 (``'random'`` pattern, about
    90% missing); the "true" confusions are the annotators' empirical confusions. LeNet,
    ``n_epoch=50``, ``batch_size=64``, Adam lr 0.001 with weight decay 1e-4, no schedule,
    lambda 0.001 (both F and W regularisers are run), 95/5 split, selection by validation
    accuracy. Without scikit-learn, the SVMs become a multi-class hinge-loss linear classifier
    and nearest-centroid classifiers, the CNNs LeNets (see :data:`MACHINE_ANNOTATORS`); every
    image gets at least one answer here (the official mask may leave an image unlabelled).
food11 (seed README)
    ``--M 5 --gamma 0.01 --regularization_type F --lambda_reg 0.0001 --n_epoch 30
    --classifier_NN torchvision.models.resnet50 --use_pretrained --annotator_type synthetic``;
    the rest as cifar10-synthetic (Adam 0.001, weight decay 1e-4, one-cycle, 95/5 split), batch
    128, images resized to 224 x 224 with ImageNet normalisation and flips.
music (seed README; ``trainer_proposed.py``)
    ``--M 44 --lambda_reg 0.01 --batch_size 128 --n_epoch 1000``, its example run named
    ``music_W_lambda0.01`` (GeoCrowdNet(W)); an MLP with one hidden layer of 128 units and
    dropout 0.5 (``fcnn_dropout_batchnorm``; its batch normalisation of the input is the
    standardisation here), Adam lr 0.001 with weight decay 1e-4; 10% of the songs held out.
labelme (``main_real_labelme.py``, ``helpers/data_load.py``)
    Rodrigues' VGG-16 features (``data_train_vgg16.npy``, 4 x 4 x 512) into ``fcnn_dropout``
    (Linear 128, ReLU, dropout 0.5), 100 epochs, batch 100, Adam with weight decay 1e-4,
    GeoCrowdNet(F); lambda and learning rate are tuned on the validation images over {0.2, 0.1}
    x {0.01, 0.001}: the defaults here are the script's untuned ones, lambda 0.2 and lr 0.001.
    Without features in the installed folder, the images with a pretrained VGG-16.

Not copied: the official code's weight decay on the confusion parameters (crowdlearn's heads
have their own parametrisation; ``head_weight_decay`` is 0) and its hyperparameter grids
(one run per call here). Everything is seeded by ``seed``: the subset, the annotators, the
split, the weights and the augmentation.

Package layout
--------------
:mod:`.experiment` (the :class:`Experiment` record and :func:`annotator_stats`), :mod:`.common`
(helpers shared by the loaders), one module per kind of annotators, as in the paper:
:mod:`.synthetic` (``cifar10-synthetic``, ``food11``), :mod:`.machine` (``mnist-machine``) and
:mod:`.real` (``music``, ``labelme``), and :mod:`.runner` (:data:`PROTOCOLS`,
:func:`load_experiment`, :func:`run_experiment`). Every name is importable from
``crowdlearn.datasets.protocols`` itself.
"""

from __future__ import annotations

# The public API (__all__) plus the names that were importable from the single-module
# crowdlearn.datasets.protocols and are not in __all__ (PathLike, PROTOCOL_FILES, the private
# helpers), so that every old import keeps working.
from .common import (  # noqa: F401
    PathLike,
    _installed_folder,
    _installed_images,
    _limit_real,
    _names,
    _rng,
    _subset,
    _take,
)
from .experiment import (  # noqa: F401
    Experiment,
    _lam_applies,
    _merge_settings,
    annotator_stats,
)
from .machine import (  # noqa: F401
    _TRAIN_SIZES,
    MACHINE_ANNOTATORS,
    _distance_annotator,
    _torch_annotator,
    machine_annotators,
    mnist_machine,
)
from .real import (  # noqa: F401
    _labelme_features,
    _music_csv,
    _music_installed,
    labelme,
    music,
)
from .runner import (  # noqa: F401
    _DEFAULT_BACKBONES,
    PROTOCOL_FILES,
    PROTOCOLS,
    _check_backbone,
    _jsonable,
    _options,
    _protocol,
    load_experiment,
    run_experiment,
)
from .synthetic import (  # noqa: F401
    _assignment,
    _image_answers,
    _simulate_annotators,
    cifar10_synthetic,
    food11,
)

__all__ = [
    "MACHINE_ANNOTATORS",
    "PROTOCOLS",
    "Experiment",
    "annotator_stats",
    "cifar10_synthetic",
    "food11",
    "labelme",
    "load_experiment",
    "machine_annotators",
    "mnist_machine",
    "music",
    "run_experiment",
]
