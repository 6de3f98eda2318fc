"""Data-parallel training (crowdlearn.deep.distributed): a 2-process gloo launch follows the
1-process loss curve with the same global batch, and ``fit --devices 2`` writes one output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with the gloo backend is not available in this build",
                allow_module_level=True)

JOB = Path(__file__).with_name("_ddp_job.py")
SRC = Path(__file__).resolve().parents[1] / "src"

#: stated tolerance of the loss curves (float32 sums in a different order on two processes)
TOL = 1e-5


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _run(cmd: list[str], tmp: Path) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=tmp, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_two_processes_follow_one_process(tmp_path):
    strategy = "ccem"  # a crowd head with its own parameters (confusions) to keep in step
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run([sys.executable, str(JOB), str(one), strategy], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
          str(JOB), str(two), strategy], tmp_path)
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(b["history"][key], a["history"][key], rtol=0, atol=TOL)
    # the model moved (the test could not pass on an untrained curve)...
    assert a["history"]["train_loss"][-1] < a["history"]["train_loss"][0] - 1e-3
    # ...and both runs end with the same weights, heads included
    np.testing.assert_allclose(b["weights"], a["weights"], rtol=1e-4, atol=1e-4)


def test_fit_devices_2_writes_one_output(tmp_path):
    rng = np.random.default_rng(0)
    n, K = 200, 3
    y = rng.integers(0, K, n)
    x = 3.0 * np.eye(K, 4)[y] + rng.normal(size=(n, 4))
    rows = ["task,worker,label"]
    for t in range(n):
        for w in range(3):
            lab = y[t] if rng.random() < 0.8 else rng.integers(0, K)
            rows.append(f"t{t},w{w},{lab}")
    (tmp_path / "answers.csv").write_text("\n".join(rows) + "\n")
    feats = ["task," + ",".join(f"f{j}" for j in range(4))]
    feats += [f"t{t}," + ",".join(f"{v:.5f}" for v in x[t]) for t in range(n)]
    (tmp_path / "features.csv").write_text("\n".join(feats) + "\n")
    out = tmp_path / "out"
    r = _run([sys.executable, "-m", "crowdlearn", "fit", "answers.csv", "--features",
              "features.csv", "-s", "crowdlayer", "--n-epochs", "3", "--devices", "2",
              "--accelerator", "cpu", "--no-progress", "-o", str(out)], tmp_path)
    summary = json.loads((out / "results.json").read_text())
    assert summary["strategy"] == "crowdlayer"
    assert summary["n_epochs"] == 3
    assert r.stdout.count("strategy") == 1  # only rank 0 printed its summary
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers


def test_devices_checked(tmp_path):
    from crowdlearn.cli import main

    (tmp_path / "a.csv").write_text("task,worker,label\nt,w,0\n")
    env_world = os.environ.get("WORLD_SIZE")
    try:
        os.environ["WORLD_SIZE"] = "3"
        code = main(["fit", str(tmp_path / "a.csv"), "--features", str(tmp_path / "a.csv"),
                     "--devices", "2", "-o", str(tmp_path / "o")])
    finally:
        if env_world is None:
            os.environ.pop("WORLD_SIZE", None)
        else:
            os.environ["WORLD_SIZE"] = env_world
    assert code == 2


def test_shutdown_leaves_the_group(tmp_path):
    """``shutdown`` waits for the ranks and closes the group (a group left open at exit can
    abort a gloo process: "terminate called without an active exception"); outside a group it
    does nothing."""
    from crowdlearn.deep.distributed import shutdown

    shutdown()  # no group: a no-op
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    assert dist.is_initialized()
    shutdown()
    assert not dist.is_initialized()
