"""AUM and WAUM (crowdlearn.identify.aum): brute force of the definitions on a tiny model,
a planted mislabelled task, peerannot's too_hard file."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdlearn.answers import Answers  # noqa: E402
from crowdlearn.errors import CrowdlearnError  # noqa: E402
from crowdlearn.identify.aum import aum, margins, too_hard, waum, write_too_hard  # noqa: E402
from crowdlearn.simulate import gaussian_features, simulate  # noqa: E402

SGD = {"optimizer": "sgd", "momentum": 0.0, "weight_decay": 0.0, "lr": 0.5,
       "batch_size": 1000, "verbose": False, "standardize": False, "device": "cpu"}


def _tiny() -> tuple[np.ndarray, Answers]:
    rng = np.random.default_rng(3)
    task = np.repeat(np.arange(12), 3)
    worker = np.tile(np.arange(3), 12)
    label = rng.integers(0, 3, size=task.size)
    a = Answers.from_arrays(task, worker, label)
    return rng.normal(size=(12, 4)).astype(np.float32), a


def _linear(seed: int = 1) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(4, 3)


def _brute_margin(v: np.ndarray, y: int, kind: str) -> float:
    if kind == "pleiss":
        return float(v[y] - max(v[k] for k in range(len(v)) if k != y))
    return float(v[y] - sorted(v)[-2])


@pytest.mark.parametrize("kind", ["pleiss", "top2"])
def test_aum_matches_a_hand_written_training(kind: str) -> None:
    x, a = _tiny()
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, -1])  # the last task has no label
    res = aum(x, a, labels=y, margin=kind, backbone=_linear(), n_epochs=3, **SGD)
    net = _linear()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    xt = torch.as_tensor(x)
    keep = np.flatnonzero(y >= 0)
    sums = np.zeros(12)
    for _ in range(3):
        z = net(xt)
        for i in keep:
            sums[i] += _brute_margin(z[i].detach().numpy(), y[i], kind)
        loss = torch.nn.functional.cross_entropy(z[keep], torch.as_tensor(y[keep]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.allclose(res.values[keep], sums[keep] / 3, atol=1e-5)
    assert np.isnan(res.values[11])
    assert res.labels.tolist() == y.tolist()


@pytest.mark.parametrize("kind", ["top2", "pleiss"])
def test_waum_matches_the_definition_on_a_hand_written_training(kind: str) -> None:
    x, a = _tiny()
    rng = np.random.default_rng(0)
    conf = rng.dirichlet(np.ones(3), size=(3, 3))
    res = waum(x, a, confusions=conf, margin=kind, backbone=_linear(), n_epochs=2, **SGD)
    net = _linear()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    xt = torch.as_tensor(x)
    t, w, lab = a.task.astype(np.int64), a.worker, a.label.astype(np.int64)
    per_answer = np.zeros(a.n_answers)
    for _ in range(2):
        z = net(xt)
        p = torch.softmax(z.double(), 1).detach().numpy()
        for i in range(a.n_answers):
            per_answer[i] += _brute_margin(p[t[i]], lab[i], kind)
        loss = torch.nn.functional.cross_entropy(z[torch.as_tensor(t)], torch.as_tensor(lab))
        opt.zero_grad()
        loss.backward()
        opt.step()
    per_answer /= 2
    score = np.array([p[t[i]] @ np.diag(conf[w[i]]) for i in range(a.n_answers)])
    expected = [sum(score[t == i] * per_answer[t == i]) / sum(score[t == i]) for i in range(12)]
    assert np.allclose(res.answer_aum, per_answer, atol=1e-5)
    assert np.allclose(res.answer_weight, score, atol=1e-5)
    assert np.allclose(res.values, expected, atol=1e-5)


def _crowd_with_planted_task(planted: int = 17):
    crowd = simulate(150, 3, workers=[("one-coin", 6, {"skill": 0.95})], answers_per_task=5,
                     seed=2)
    a = crowd.answers
    truth = np.asarray(crowd.true_labels)
    label = a.label.copy()
    label[a.task == planted] = (truth[planted] + 1) % 3  # every answer wrong, the same way
    planted_answers = Answers.from_arrays(a.task_ids[a.task], a.worker_ids[a.worker],
                                          a.classes[label])
    x = gaussian_features(truth, 3, 6, separation=6.0, seed=2)
    return x, planted_answers, planted


def test_a_planted_mislabelled_task_gets_the_lowest_aum_and_waum() -> None:
    x, a, planted = _crowd_with_planted_task()
    res = aum(x, a, strategy="mv", n_epochs=20, lr=0.01, verbose=False, device="cpu")
    assert int(np.nanargmin(res.values)) == planted
    assert res.values[planted] < 0
    assert planted in too_hard(res.values, 0.01)
    w = waum(x, a, n_epochs=20, lr=0.01, verbose=False, device="cpu")
    assert int(np.nanargmin(w.values)) == planted


def test_margins_and_quantile_cut() -> None:
    v = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    y = torch.tensor([2, 1])
    assert margins(v, y, "pleiss").tolist() == [-1.0, 4.0]
    assert margins(v, y, "top2").tolist() == [0.0, 4.0]
    vals = np.array([0.5, np.nan, -2.0, 1.0, 3.0])
    assert too_hard(vals, 0.0).tolist() == [2]
    assert too_hard(vals, 0.5).tolist() == [0, 2]
    with pytest.raises(CrowdlearnError):
        too_hard(vals, 1.5)


def test_too_hard_file_is_peerannots(tmp_path) -> None:
    ids = np.array(["10", "11", "12", "13"])
    path = tmp_path / "too_hard_0.1.txt"
    write_too_hard(path, [1, 3], ids)
    assert path.read_text() == "-1 11\n-1 13\n"
    loaded = np.loadtxt(path, dtype=int)  # what peerannot's load_data does
    assert loaded[:, 0][0] == -1 and loaded[:, 1].tolist() == [11, 13]
    write_too_hard(path, [2], ids, sample_index=[7, 6, 5, 4])
    assert path.read_text() == "5 12\n"
    assert np.loadtxt(path, dtype=int).reshape(-1, 2).tolist() == [[5, 12]]
    with pytest.raises(CrowdlearnError):
        write_too_hard(path, [0], np.array(["a", "b"]))


def _sim_folder(tmp_path):
    from crowdlearn.cli import main

    sim = tmp_path / "sim"
    assert main(["simulate", "-o", str(sim), "--n-classes", "3", "--n-workers", "6",
                 "--n-tasks", "120", "--features", "5", "--seed", "0"]) == 0
    return sim


def test_cli_identify_aum_waum_and_fit_exclude(tmp_path, capsys) -> None:
    import json

    import pandas as pd

    from crowdlearn.cli import main
    from crowdlearn.identify import identify

    sim = _sim_folder(tmp_path)
    out = tmp_path / "diag"
    assert main(["identify", str(sim), "-m", "aum", "waum", "--features",
                 str(sim / "features.csv"), "--n-epochs", "4", "--alpha", "0.1", "--seed", "3",
                 "--accelerator", "cpu", "-o", str(out), "--quiet"]) == 0
    tasks = pd.read_csv(out / "tasks.csv")
    assert {"aum", "waum"} <= set(tasks.columns)
    aum_file = out / "identification" / "mlp" / "aum" / "too_hard_0.1.txt"
    waum_file = out / "identification" / "mlp" / "waum_0.1_yang" / "too_hard_0.1.txt"
    rows = np.loadtxt(aum_file, dtype=int)
    assert (rows[:, 0] == -1).all()
    expected = tasks["task"][tasks["aum"] <= np.nanquantile(tasks["aum"], 0.1)]
    assert sorted(rows[:, 1].tolist()) == sorted(expected.tolist())
    assert waum_file.is_file()
    info = json.loads((out / "dataset.json").read_text())
    assert info["prune"]["aum"]["n_tasks"] == len(rows)
    # the same numbers from the Python API
    from crowdlearn.io import read
    from crowdlearn.io.features import read_features

    answers = read(sim)
    feats = read_features(sim / "features.csv", answers)
    d = identify(answers, "default", ["aum"], random_state=3, items=feats,
                 classifier_params={"n_epochs": 4, "device": "cpu", "verbose": False})
    assert np.allclose(d.tasks["aum"], tasks["aum"])
    # fit leaves them out
    fit_out = tmp_path / "fit"
    assert main(["fit", str(sim), "--features", str(sim / "features.csv"), "--exclude",
                 str(aum_file), "--n-epochs", "2", "--no-progress", "-o", str(fit_out)]) == 0
    assert "task(s) left out of training" in capsys.readouterr().out
    results = json.loads((fit_out / "results.json").read_text())
    assert results["n_tasks"] == 120 - len(rows)


def test_cli_identify_aum_needs_items(tmp_path, capsys) -> None:
    from crowdlearn.cli import main

    sim = _sim_folder(tmp_path)
    assert main(["identify", str(sim), "-m", "aum", "-o", str(tmp_path / "d")]) == 2
    assert "--features FILE or --images" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("-1 9999\n-1 3\n")
    assert main(["fit", str(sim), "--features", str(sim / "features.csv"), "--exclude",
                 str(bad), "--n-epochs", "1", "-o", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "bad.txt" in err and "9999" in err


def _peerannot_python() -> str | None:
    import os

    path = os.environ.get("CROWDLEARN_PEERANNOT_PYTHON", "/work/venvs/pa/bin/python")
    return path if path and os.path.isfile(path) else None


@pytest.mark.skipif(_peerannot_python() is None,
                    reason="no Python with peerannot (set CROWDLEARN_PEERANNOT_PYTHON)")
def test_aum_and_waum_agree_with_peerannot(tmp_path) -> None:
    """Same items, labels, initial weights, full-batch SGD and confusions: peerannot's AUM
    (use_pleiss) and WAUM (top-2 and Pleiss margins) equal ours."""
    import subprocess
    from pathlib import Path

    x, a = _tiny()
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2])
    conf = np.random.default_rng(1).dirichlet(np.ones(3), size=(3, 3))
    net = _linear()
    np.savez(tmp_path / "in.npz", x=x, y=y, n_classes=3, epochs=3, lr=0.5,
             weight=net.weight.detach().numpy(), bias=net.bias.detach().numpy(),
             task=a.task, worker=a.worker, label=a.label, confusions=conf)
    script = Path(__file__).parent / "peerannot_ref" / "aum_waum.py"
    subprocess.run([_peerannot_python(), str(script), str(tmp_path / "in.npz"),
                    str(tmp_path / "out.npz")], cwd=tmp_path, check=True, capture_output=True)
    ref = np.load(tmp_path / "out.npz")
    ours = aum(x, a, labels=y, backbone=_linear(), n_epochs=3, **SGD)
    assert np.allclose(ours.values, ref["aum"], atol=1e-5)
    for kind in ("top2", "pleiss"):
        w = waum(x, a, confusions=conf, margin=kind, backbone=_linear(), n_epochs=3, **SGD)
        assert np.allclose(w.values, ref[f"waum_{kind}"], atol=1e-5), kind


def test_cli_identify_aum_on_a_peerannot_image_folder(tmp_path) -> None:
    import pandas as pd

    Image = pytest.importorskip("PIL.Image")
    from crowdlearn.cli import main
    from crowdlearn.io import write_peerannot

    root = tmp_path / "pets"
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    crowd = simulate(true_labels=y, n_classes=2, n_workers=4, answers_per_task=3,
                     model="one-coin", model_params={"skill": 0.8}, seed=0)
    write_peerannot(crowd.answers.with_truth(None), root, name="pets")
    for t, k in enumerate(y):
        path = root / "train" / ("ab"[k]) / f"{'ab'[k]}-{t}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 60, size=(8, 8, 3)).astype(np.uint8)
        arr[:, :, k] += 150
        Image.fromarray(arr).save(path)
    out = tmp_path / "diag"
    assert main(["identify", str(root), "-m", "aum", "--images", "--n-epochs", "2",
                 "--batch-size", "16", "--hidden", "8", "--accelerator", "cpu", "--cache-dir",
                 str(tmp_path / "cache"), "--alpha", "0.1", "-o", str(out), "--quiet"]) == 0
    tasks = pd.read_csv(out / "tasks.csv")
    assert np.isfinite(tasks["aum"]).all() and len(tasks) == 40
    rows = np.loadtxt(out / "identification" / "mlp" / "aum" / "too_hard_0.1.txt", dtype=int)
    assert len(rows) >= 4 and set(rows[:, 1]) <= set(range(40))
