"""End-to-end deep learning from crowds (imports torch: load it only when needed).

* :class:`CrowdClassifier` — scikit-learn-style estimator over every strategy;
* :mod:`.backbones` — MLP, LeNet, ResNet-9/18/34, torchvision models by name;
* :mod:`.heads` — two-stage, crowd layer, CoNAL, CCEM, GeoCrowdNet(F/W), TraceReg,
  Raykar (joint likelihood, deep Dawid-Skene);
* :mod:`.train` — the one training loop; :mod:`.data` — device tensors batched by task.
"""

from __future__ import annotations

from .backbones import available_backbones, make_backbone
from .classifier import CrowdClassifier, split_tasks
from .data import Batch, CrowdData
from .heads import available_heads, make_head
from .regressor import CrowdRegressor
from .train import CrowdModel, TrainConfig, TrainResult, train

__all__ = [
    "Batch", "CrowdClassifier", "CrowdData", "CrowdModel", "CrowdRegressor",
    "TrainConfig", "TrainResult",
    "available_backbones", "available_heads", "make_backbone", "make_head", "split_tasks",
    "train",
]
