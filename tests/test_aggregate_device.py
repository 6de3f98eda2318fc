"""GPU aggregation: ``device=`` runs the EM on torch tensors and equals the numpy path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from crowdlearn.aggregate import make_strategy
from crowdlearn.aggregate._device import TORCH_STRATEGIES, resolve_device
from crowdlearn.errors import CrowdlearnError
from crowdlearn.params import ParameterError
from crowdlearn.simulate import simulate

torch = pytest.importorskip("torch", reason="torch is needed for device= (the numpy path "
                            "does not need it)")


@pytest.fixture(scope="module")
def crowd():
    return simulate(1500, 4, 50, seed=3, activity="power-law").answers


CASES = [(name, {}) for name in TORCH_STRATEGIES] + [
    ("ds", {"init": "spectral"}), ("ds", {"alpha": 0.5}), ("mv", {"posterior": "tied"}),
    ("mv", {"tie_break": "first"}), ("pooled-ds", {"strength": 2.0}),
]


@pytest.mark.parametrize("name, params", CASES)
def test_cpu_torch_run_equals_the_numpy_run(crowd, name, params):
    ref = make_strategy(name, **params).fit(crowd)
    dev = make_strategy(name, device="cpu", **params).fit(crowd)
    assert dev.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(dev.labels_, ref.labels_)
    for key, value in ref.result_arrays().items():
        np.testing.assert_allclose(dev.result_arrays()[key], value, atol=1e-6, rtol=0,
                                   err_msg=key)
        assert isinstance(dev.result_arrays()[key], np.ndarray)


@pytest.mark.parametrize("name", ["ds", "onecoin", "pooled-ds", "glad"])
def test_gold_labels_are_clamped_on_the_device(crowd, name):
    gold = np.full(crowd.n_tasks, -1)
    gold[:40] = (crowd.truth[:40] + 1) % crowd.n_classes  # deliberately wrong gold
    ref = make_strategy(name).fit(crowd, gold=gold)
    dev = make_strategy(name, device="cpu").fit(crowd, gold=gold)
    np.testing.assert_allclose(dev.probas_, ref.probas_, atol=1e-6, rtol=0)
    assert (dev.labels_[:40] == gold[:40]).all()


def test_auto_without_cuda_keeps_the_numpy_path(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") is None
    assert resolve_device(None) is None
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(CrowdlearnError, match="CUDA is not available"):
        resolve_device("cuda")


def test_a_bad_device_is_refused_in_one_line():
    with pytest.raises(ParameterError, match="device"):
        make_strategy("ds", device="tpu")


def test_numpy_path_never_imports_torch():
    code = ("import sys; from crowdlearn.aggregate import make_strategy; "
            "from crowdlearn.simulate import simulate; a = simulate(200, 3, 10, seed=0).answers; "
            "[make_strategy(n).fit(a) for n in ('mv', 'wawa', 'ds', 'onecoin', 'pooled-ds')]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_cli_device_option(tmp_path):
    a = simulate(100, 3, 8, seed=1).answers
    a.to_frame().to_csv(tmp_path / "a.csv", index=False)
    run = [sys.executable, "-m", "crowdlearn", "aggregate", "a.csv", "-o", "out"]
    ok = subprocess.run(run + ["-s", "ds", "--device", "cpu"], cwd=tmp_path,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    ref = make_strategy("ds").fit(a)
    np.testing.assert_allclose(np.load(tmp_path / "out" / "probas_a_ds.npy"), ref.probas_,
                               atol=1e-6)
    bad = subprocess.run(run + ["-s", "mace", "--device", "cpu"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "numpy only" in bad.stderr


@pytest.mark.parametrize("name", TORCH_STRATEGIES)
def test_empty_answers_give_the_numpy_results(name):
    import pandas as pd

    empty = pd.DataFrame({"task": [], "worker": [], "label": []})
    try:
        ref = make_strategy(name).fit(empty)
    except (ValueError, TypeError) as exc:  # numpy path fails on empty data (wawa, onecoin)
        with pytest.raises(type(exc)):
            make_strategy(name, device="cpu").fit(empty)
        return
    dev = make_strategy(name, device="cpu").fit(empty)
    assert len(dev.labels_) == len(ref.labels_) == 0
