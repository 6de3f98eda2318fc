"""Train one CrowdClassifier and dump rank 0's history: run by tests/test_deep_distributed.py
in one process and under ``torchrun --nproc-per-node=2`` (gloo) with the same global batch."""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from crowdlearn.deep import CrowdClassifier
from crowdlearn.deep.distributed import is_main_process
from crowdlearn.simulate import simulate

torch.set_num_threads(1)
strategy = sys.argv[2]
rng = np.random.default_rng(0)
K, n = 3, 480
y = rng.integers(0, K, n)
x = (3.0 * np.eye(K, 6)[y] + rng.normal(size=(n, 6))).astype(np.float32)
eye = np.eye(K)
conf = np.array([0.8 * eye + 0.2 * (1 - eye) / (K - 1)] * 3 + [eye[[1, 2, 0]]] * 2)
crowd = simulate(true_labels=y, n_classes=K, answers_per_task=3, confusions=conf, seed=1)
clf = CrowdClassifier("mlp", strategy=strategy, backbone_params={"hidden": (16,), "dropout": 0.0},
                      n_epochs=4, batch_size=64, lr=0.05, optimizer="sgd", momentum=0.9,
                      seed=0, device="cpu", verbose=False, threads=1, val_fraction=0.2)
clf.fit(x, crowd.answers)
if is_main_process():
    weights = [p.detach().double().sum().item() for p in clf.model_.parameters()]
    with open(sys.argv[1], "w") as f:
        json.dump({"history": clf.history_, "weights": weights}, f)
