"""Run peerannot's AUM and WAUM on the data of ``in.npz`` (items, labels, answers, initial
weights of a linear model, confusions) and write ``out.npz``: peerannot's values per task.

Run by tests/test_identify_aum.py with a Python that has peerannot (CROWDLEARN_PEERANNOT_PYTHON),
in a scratch folder (peerannot writes ./temp/ checkpoints).
"""

import sys
from types import SimpleNamespace

import numpy as np
import torch
from peerannot.models import AUM, WAUM

data = np.load(sys.argv[1])
x = torch.as_tensor(data["x"])
n_tasks, n_classes = x.shape[0], int(data["n_classes"])
epochs, lr = int(data["epochs"]), float(data["lr"])


def linear():
    net = torch.nn.Linear(x.shape[1], n_classes)
    net.load_state_dict({"weight": torch.as_tensor(data["weight"]),
                         "bias": torch.as_tensor(data["bias"])})
    return net


class Tasks(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items
        names = [(f"task-{i}.png", 0) for i in range(n_tasks)]
        self.dataset = SimpleNamespace(samples=names, base_samples=names)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


y = data["y"]
aum_items = [(x[i], 0, int(y[i]), i) for i in range(n_tasks)]
loader = torch.utils.data.DataLoader(Tasks(aum_items), batch_size=10_000, shuffle=False)
net = linear()
aum = AUM(loader, n_classes, net, torch.nn.CrossEntropyLoss(),
          torch.optim.SGD(net.parameters(), lr=lr), epochs, use_pleiss=True, DEVICE="cpu")
aum.get_aum()
aum.compute_aum()
aum_values = aum.aums.sort_values("sample_id")["AUM_pleiss"].to_numpy()

task, worker, label = data["task"], data["worker"], data["label"]
stacked = [(x[t], int(lab), int(w), int(t), i)
           for i, (t, w, lab) in enumerate(zip(task, worker, label, strict=True))]
loader = torch.utils.data.DataLoader(Tasks(stacked), batch_size=10_000, shuffle=False)
votes = {}
for t, w, lab in zip(task.tolist(), worker.tolist(), label.tolist(), strict=True):
    votes.setdefault(t, {})[w] = lab
out = {"aum": aum_values}
for pleiss in (False, True):
    net = linear()
    waum = WAUM(loader, votes, n_classes, net, torch.nn.CrossEntropyLoss(),
                torch.optim.SGD(net.parameters(), lr=lr), epochs, use_pleiss=pleiss,
                n_workers=int(worker.max()) + 1, DEVICE="cpu")
    waum.pi = data["confusions"]
    waum.get_aum()
    if pleiss:
        waum.get_psi1_waum()
    else:
        waum.get_psi5_waum()
    out["waum_pleiss" if pleiss else "waum_top2"] = \
        waum.waum.sort_values("index")["waum"].to_numpy()
np.savez(sys.argv[2], **out)
