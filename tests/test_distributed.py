"""The Dask engine (crowdlearn.distributed) against the in-memory strategies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed", reason="dask[distributed] is not installed (extra 'dask')")
pytest.importorskip("pyarrow", reason="pyarrow is not installed (extra 'dask')")

from crowdlearn import Answers  # noqa: E402
from crowdlearn.aggregate import make_strategy, parse_strategy_spec  # noqa: E402
from crowdlearn.cli import main  # noqa: E402
from crowdlearn.distributed import aggregate  # noqa: E402
from crowdlearn.errors import CrowdlearnError  # noqa: E402
from crowdlearn.simulate import simulate  # noqa: E402

STRATEGIES = ["mv", "naivesoft", "wawa", "ds", "ds[alpha=0.5]", "onecoin", "default",
              "pooled-ds[strength=2]", "mv[tie_break=first]", "glad"]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                           dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def crowd_folder(tmp_path_factory):
    """Text task ids, text workers and text labels, in 3 files NOT partitioned by task (the
    rows are shuffled across files), with ties for the votes."""
    crowd = simulate(600, 3, n_workers=12, model="one-coin", answers_per_task=4, seed=5)
    a = crowd.answers
    names = np.array(["bird", "cat", "dog"])
    frame = pd.DataFrame({"task": np.char.add("t", a.task_ids[a.task].astype(str)),
                          "worker": np.char.add("w", a.worker_ids[a.worker].astype(str)),
                          "label": names[a.label]})
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    folder = tmp_path_factory.mktemp("crowd")
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder, Answers.from_frame(frame)


@pytest.mark.parametrize("spec", STRATEGIES)
def test_dask_equals_memory_after_same_iterations(client, crowd_folder, spec):
    folder, answers = crowd_folder
    name, params = parse_strategy_spec(spec)
    ref = make_strategy(name, **params).fit(answers)
    est = aggregate(str(folder), spec, client=client, partitions=4)
    assert est.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(est.answers_.task_ids, answers.task_ids)
    np.testing.assert_array_equal(est.answers_.worker_ids, answers.worker_ids)
    np.testing.assert_array_equal(est.answers_.classes, answers.classes)
    np.testing.assert_allclose(est.probas_, ref.probas_, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    for attr in ("confusions_", "skills_", "priors_", "pooled_confusion_", "alphas_", "betas_",
                 "difficulties_"):
        if getattr(ref, attr, None) is not None:
            np.testing.assert_allclose(getattr(est, attr), getattr(ref, attr), atol=1e-8)
    if ref.log_likelihood_ is not None:
        assert est.log_likelihood_ == pytest.approx(ref.log_likelihood_, abs=1e-10)


def test_same_iterations_when_capped(client, crowd_folder):
    folder, answers = crowd_folder
    ref = make_strategy("ds", n_iter=2).fit(answers)
    est = aggregate(str(folder), "ds", client=client, n_iter=2)
    assert est.n_iter_ == ref.n_iter_ == 2
    np.testing.assert_allclose(est.probas_, ref.probas_, atol=1e-8)


def test_in_memory_input_is_partitioned_by_task(client):
    a = simulate(500, 4, n_workers=9, model="one-coin", answers_per_task=3, seed=2).answers
    ref = make_strategy("onecoin").fit(a)
    est = aggregate(a, "onecoin", client=client, partitions=3)
    np.testing.assert_allclose(est.probas_, ref.probas_, atol=1e-8)
    np.testing.assert_array_equal(est.answers_.task_ids, a.task_ids)


def test_parquet_output_is_partitioned_and_round_trips_ids(client, crowd_folder, tmp_path):
    folder, answers = crowd_folder
    ref = make_strategy("ds").fit(answers)
    est = aggregate(str(folder), "ds", client=client, partitions=3, collect=False,
                    output=str(tmp_path), output_format="parquet")
    assert not hasattr(est, "probas_")
    parts = sorted((tmp_path / "labels_crowd0_ds").glob("part-*.parquet")) or \
        sorted(tmp_path.glob("labels_*_ds/part-*.parquet"))
    assert len(parts) == 3
    out = pd.concat([pd.read_parquet(p) for p in parts]).set_index("task")
    out = out.loc[answers.task_ids]
    np.testing.assert_array_equal(out["label"].to_numpy(), answers.classes[ref.labels_])
    np.testing.assert_allclose(out[["p_bird", "p_cat", "p_dog"]].to_numpy(), ref.probas_,
                               atol=1e-8)
    summary = json.loads(next(tmp_path.glob("summary_*_ds.json")).read_text())
    assert summary["n_tasks"] == answers.n_tasks and summary["engine"] == "dask"


def test_spectral_start_and_per_task_glad_priors_are_refused(client, crowd_folder):
    folder, _ = crowd_folder
    with pytest.raises(CrowdlearnError, match="spectral"):
        aggregate(str(folder), "ds[init=spectral]", client=client)
    with pytest.raises(CrowdlearnError, match="betas_priors_mean must be one number"):
        aggregate(str(folder), "glad", client=client, betas_priors_mean=[1.0] * 600)
    with pytest.raises(CrowdlearnError, match="no Dask engine; available: .*glad"):
        aggregate(str(folder), "mace", client=client)


@pytest.mark.parametrize("model,seed,params", [
    # Fisher fallback 4 times in 10 Newton steps, per-worker prior means, 3 Newton steps
    ("one-coin", 11, {"m_step_max_iter": 3, "betas_priors_mean": 0.5,
                      "alphas_priors_mean": np.linspace(0.5, 2.0, 15)}),
    # line-search halvings (more trial points than Newton directions)
    ("hammer-spammer", 7, {"alphas_priors_mean": -1.0}),
])
def test_glad_newton_steps_and_priors_equal_memory(client, model, seed, params):
    """GLAD's M-step (Newton with the Schur complement by CG, Fisher fallback, line search)
    as map-reduce rounds: 4 classes, capped EM."""
    a = simulate(300, 4, n_workers=15, model=model, answers_per_task=5, seed=seed).answers
    params = {"n_iter": 4, "tol": -1.0, **params}
    ref = make_strategy("glad", **params).fit(a)
    est = aggregate(a, "glad", client=client, partitions=3, **params)
    assert est.n_iter_ == ref.n_iter_ == 4 and est.converged_ == ref.converged_
    np.testing.assert_allclose(est.probas_, ref.probas_, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    for attr in ("skills_", "betas_", "difficulties_"):
        np.testing.assert_allclose(getattr(est, attr), getattr(ref, attr), rtol=0, atol=1e-8)
    np.testing.assert_allclose(est.loss_history_, ref.loss_history_, rtol=0, atol=1e-10)


def test_bad_column_names_the_file(client, tmp_path):
    pd.DataFrame({"task": [1], "who": [2], "label": [0]}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(CrowdlearnError, match=r"a\.parquet.*missing column\(s\) worker"):
        aggregate(str(tmp_path), "mv", client=client)


def test_simulate_parquet_writes_disjoint_task_partitions(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "-o", str(out), "--n-tasks", "1000", "--n-classes", "3",
                 "--n-workers", "20", "--format", "parquet", "--partitions", "4",
                 "--seed", "7", "--quiet"]) == 0
    files = sorted(out.glob("part-*.parquet"))
    assert len(files) == 4
    tasks = [set(pd.read_parquet(f)["task"]) for f in files]
    assert sum(len(t) for t in tasks) == len(set().union(*tasks)) == 1000
    frame = pd.concat([pd.read_parquet(f) for f in files])
    assert len(frame) == 1000 * 5 and frame["worker"].between(0, 19).all()
    assert str(frame["task"].dtype) == "int32" and str(frame["label"].dtype) == "int8"
    truth = pd.concat([pd.read_parquet(f) for f in sorted((out / "_truth").glob("*.parquet"))])
    assert sorted(truth["task"]) == list(range(1000))
    assert json.loads((out / "_crowdlearn.json").read_text())["partitioned_by"] == "task"
    assert len(pd.read_parquet(out)) == 5000  # the folder reads as the answers alone
    # chunks use their own seeds: two chunks of one run differ, a rerun is identical
    a0 = pd.read_parquet(files[0])
    assert not np.array_equal(a0["label"].to_numpy(),
                              pd.read_parquet(files[1])["label"].to_numpy())
    again = tmp_path / "again"
    main(["simulate", "-o", str(again), "--n-tasks", "1000", "--n-classes", "3",
          "--n-workers", "20", "--format", "parquet", "--partitions", "4", "--seed", "7",
          "--quiet"])
    pd.testing.assert_frame_equal(a0, pd.read_parquet(again / "part-00000.parquet"))


def test_cli_engine_dask_writes_the_in_memory_files(tmp_path):
    sim = tmp_path / "sim"
    main(["simulate", "-o", str(sim), "--n-tasks", "400", "--n-classes", "3", "--n-workers",
          "10", "--format", "parquet", "--partitions", "2", "--seed", "1", "--quiet"])
    frame = pd.concat([pd.read_parquet(f) for f in sorted(sim.glob("part-*.parquet"))])
    frame.to_csv(tmp_path / "answers.csv", index=False)
    assert main(["aggregate", str(tmp_path / "answers.csv"), "-s", "ds", "-o",
                 str(tmp_path / "mem"), "--quiet"]) == 0
    assert main(["aggregate", str(sim), "--engine", "dask", "--workers", "1", "-s", "ds",
                 "-o", str(tmp_path / "dask"), "--quiet"]) == 0
    mem = pd.read_csv(tmp_path / "mem" / "labels_answers_ds.csv")
    dask = pd.read_csv(tmp_path / "dask" / "labels_simulated_ds.csv")
    pd.testing.assert_frame_equal(mem, dask, atol=1e-8)
    np.testing.assert_allclose(np.load(tmp_path / "dask" / "probas_simulated_ds.npy"),
                               np.load(tmp_path / "mem" / "probas_answers_ds.npy"), atol=1e-8)


def test_cli_engine_dask_glad_on_worker_processes(tmp_path):
    sim = tmp_path / "sim"
    main(["simulate", "-o", str(sim), "--n-tasks", "300", "--n-classes", "3", "--n-workers",
          "10", "--format", "parquet", "--partitions", "2", "--seed", "3", "--quiet"])
    frame = pd.concat([pd.read_parquet(f) for f in sorted(sim.glob("part-*.parquet"))])
    frame.to_csv(tmp_path / "answers.csv", index=False)
    spec = "glad[n_iter=1,m_step_max_iter=2]"  # states updated in place on 2 worker processes
    assert main(["aggregate", str(tmp_path / "answers.csv"), "-s", spec, "-o",
                 str(tmp_path / "mem"), "--quiet"]) == 0
    assert main(["aggregate", str(sim), "--engine", "dask", "--workers", "2", "-s", spec,
                 "-o", str(tmp_path / "dask"), "--quiet"]) == 0
    mem = sorted((tmp_path / "mem").glob("probas_*.npy"))
    dask = sorted((tmp_path / "dask").glob("probas_*.npy"))
    assert len(mem) == len(dask) == 1
    np.testing.assert_allclose(np.load(dask[0]), np.load(mem[0]), rtol=0, atol=1e-8)
    lab_m = pd.read_csv(next((tmp_path / "mem").glob("labels_*.csv")))
    lab_d = pd.read_csv(next((tmp_path / "dask").glob("labels_*.csv")))
    pd.testing.assert_frame_equal(lab_m, lab_d, atol=1e-8)
    w_m = np.load(next((tmp_path / "mem").glob("workers_*.npz")), allow_pickle=True)
    w_d = np.load(next((tmp_path / "dask").glob("workers_*.npz")), allow_pickle=True)
    for key in ("skills", "difficulties", "priors"):
        np.testing.assert_allclose(w_d[key], w_m[key], rtol=0, atol=1e-8)


def test_dask_dataframe_input(client, crowd_folder):
    import dask.dataframe as dd

    folder, answers = crowd_folder
    frame = pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))])
    ddf = dd.from_pandas(frame, npartitions=3)
    ref = make_strategy("pooled-ds").fit(answers)
    est = aggregate(ddf, "pooled-ds", client=client)
    np.testing.assert_allclose(est.probas_, ref.probas_, atol=1e-8)
    np.testing.assert_array_equal(est.answers_.task_ids, answers.task_ids)


def test_glad_state_rebuilt_after_a_lost_worker_is_detected():
    from crowdlearn.distributed._data import Partition
    from crowdlearn.distributed._glad import GladState, _step

    a = simulate(50, 3, n_workers=5, model="one-coin", answers_per_task=3, seed=1).answers

    st = GladState(Partition(a), np.ones(5), 1.0)
    assert _step(st, 0, lambda s: s.rounds) == 1
    with pytest.raises(CrowdlearnError, match="lost"):
        _step(GladState(Partition(a), np.ones(5), 1.0), 3, lambda s: 0)


@pytest.mark.parametrize("flags", [["--update", "STATE"], ["--update-refresh", "0"]])
def test_cli_engine_dask_refuses_incremental_updates(tmp_path, capsys, flags):
    answers = tmp_path / "a.csv"
    answers.write_text("task,worker,label\n0,0,1\n0,1,1\n1,0,0\n", encoding="utf-8")
    flags = [str(tmp_path / "state") if f == "STATE" else f for f in flags]
    assert main(["aggregate", str(answers), "--engine", "dask", "-o", str(tmp_path / "o"),
                 *flags, "--quiet"]) == 2
    assert f"{flags[0]} is not supported with --engine dask" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
