"""Hostile model files and closed pipes: one-line errors, never a traceback or a huge allocation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

#: fit a tiny model, save it, then write a crafted copy (argv: folder, key, JSON value)
_CRAFT = """
import json, sys, numpy as np, torch
from crowdlearn.simulate import simulate
from crowdlearn.deep import CrowdClassifier
from crowdlearn.deep.results import save_model
torch.set_num_threads(1)
folder = sys.argv[1]
crowd = simulate(60, 3, workers=[("one-coin", 4)], answers_per_task=3, seed=0)
X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
clf = CrowdClassifier("mlp", n_epochs=1, backbone_params={"hidden": (8,)}, verbose=False)
save_model(clf.fit(X, crowd.answers), folder + "/ok.pth")
np.save(folder + "/X.npy", X)
"""

_LOAD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # 6 GiB: a 160 GB model cannot fit
from crowdlearn.deep.results import load_model
from crowdlearn.errors import DataError
try:
    load_model(sys.argv[1])
except DataError as exc:
    print("DataError:", exc)
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", _CRAFT, str(folder)], check=True, env=env)
    return folder


def _crafted(saved: Path, tmp_path: Path, edit) -> Path:  # noqa: ANN001
    import torch

    ckpt = torch.load(saved / "ok.pth", weights_only=True)
    edit(ckpt)
    path = tmp_path / "best.pth"
    torch.save(ckpt, path)
    return path


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS")
def test_huge_backbone_params_are_refused_before_allocating(saved: Path, tmp_path: Path) -> None:
    path = _crafted(saved, tmp_path,
                    lambda c: c["backbone_params"].update(hidden=[2 ** 33]))  # ~160 GB
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("DataError:") and str(path) in proc.stdout
    assert "do not fit" in proc.stdout and len(proc.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize(("key", "value", "match"), [
    ("backbone_params", ["hidden"], "backbone_params"),
    ("input_shape", [-5], "input_shape"),
    ("n_workers", 10 ** 9, "n_workers"),
    ("strategy_params", {"x": object.__name__.encode()}, "strategy_params"),
    ("backbone_params", {"hidden": "abc"}, "cannot rebuild"),
])
def test_crafted_entries_are_one_line_errors(saved: Path, tmp_path: Path, key: str,
                                             value: object, match: str) -> None:
    from crowdlearn.deep.results import load_model
    from crowdlearn.errors import DataError

    path = _crafted(saved, tmp_path, lambda c: c.__setitem__(key, value))
    with pytest.raises(DataError, match=match) as info:
        load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_valid_model_still_loads(saved: Path) -> None:
    from crowdlearn.deep.results import load_model

    clf = load_model(saved / "ok.pth")
    assert clf.predict(np.load(saved / "X.npy")).shape == (60,)


# ---------------------------------------------------------------------- closed pipes
@pytest.mark.skipif(os.name != "posix", reason="SIGPIPE semantics")
@pytest.mark.parametrize("argv", [["datasets", "list"], ["--help"], ["info", "{csv}"]])
def test_a_closed_pipe_ends_the_command_quietly(argv: list[str], tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("task,worker,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(50)))
    argv = [a.replace("{csv}", str(csv)) for a in argv]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes anything
    try:
        proc = subprocess.run([sys.executable, "-m", "crowdlearn", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.stderr == ""
    assert proc.returncode in (0, 141)
