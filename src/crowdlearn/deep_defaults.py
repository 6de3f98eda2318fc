"""Default settings of :class:`~crowdlearn.deep.CrowdClassifier`, in one place.

``CrowdClassifier``'s signature, the training loop's ``TrainConfig`` and ``crowdlearn fit``'s
options all read these values, so a default is changed here only. The module imports nothing
and lives outside :mod:`crowdlearn.deep` (whose package imports torch), so that the command
line reads it without loading torch.

The crowd heads' own defaults (``init_scale``, ``lam``, ...) are their constructors'; how fast a
head learns by default is its class attribute ``head_lr_factor`` (see ``HEAD_LR_FACTOR``).
"""

from __future__ import annotations

BACKBONE = "mlp"
STRATEGY = "geocrowdnet-w"
N_EPOCHS = 100
BATCH_SIZE = 128
OPTIMIZER = "adam"
LR = 1e-3
MOMENTUM = 0.9
WEIGHT_DECAY = 0.0
SCHEDULE = "none"
GAMMA = 0.1
VAL_FRACTION = 0.1
SELECTION = "auto"
SEED = 0

#: ``head_lr=None`` means ``lr * head_lr_factor`` of the strategy's head: the confusion heads
#: (CCEM, GeoCrowdNet(F/W), TraceReg, Raykar), whose confusion logits start at ``6 I``, learn
#: this much faster than the classifier; the crowd layer and CoNAL at the classifier's rate
#: (factor 1). Chosen by the held-out answers' loss (no true label): see ``CCEM``.
HEAD_LR_FACTOR = 10.0
