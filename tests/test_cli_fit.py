"""``crowdlearn fit``: training from crowd answers, the output folder, errors, model reload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn.cli import build_parser, main

#: tiny, fast, quiet training (one thread: small models, and fair on a busy machine)
FAST = ["--n-epochs", "3", "--batch-size", "64", "--hidden", "16", "--dropout", "0",
        "--accelerator", "cpu", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated crowd with Gaussian features: 300 tasks, 3 classes, 6 workers."""
    out = tmp_path_factory.mktemp("fit") / "sim"
    assert main(["simulate", "-o", str(out), "--n-tasks", "300", "--n-classes", "3",
                 "--workers", "one-coin:4,adversarial:1,spammer:1", "--features", "6",
                 "--separation", "4", "--seed", "1", "--quiet"]) == 0
    return out


def _fit(sim: Path, out: Path, *extra: str) -> int:
    return main(["fit", str(sim), "--features", str(sim / "features.csv"), *FAST, "-o",
                 str(out), *extra])


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("crowdlearn fit: error: ")
    return err


def _no_leftovers(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------- end to end
def test_simulate_features_then_fit_reports_confusion_error(
    sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fitout"
    assert _fit(sim, out, "--true-confusions", str(sim / "confusions.npy"),
                "-s", "geocrowdnet-f", "--lr", "0.01", "--head-lr", "0.1") == 0
    text = capsys.readouterr().out
    assert "geocrowdnet-f" in text and "confusion error" in text and str(out) in text

    res = json.loads((out / "results.json").read_text())
    assert res["strategy"] == "geocrowdnet-f" and res["n_epochs"] == 3
    assert len(res["train_loss"]) == len(res["val_loss"]) == len(res["val_accuracy"]) == 3
    assert "test_accuracy" not in res  # no test set
    assert 1 <= res["best_epoch"] <= 3 and res["selection"] == "val_loss"
    assert 0.0 <= res["confusion_error"] < 2.0
    assert res["train_accuracy"] > 0.5 and res["n_tasks_with_truth"] == 300
    assert res["device"] == "cpu" and res["versions"]["torch"]
    assert res["head_lr_used"] == pytest.approx(0.1)  # the given --head-lr
    assert res["inputs"]["true_confusions"].endswith("confusions.npy")
    assert set(res["files"]) == {p.name for p in out.iterdir()}
    assert {"results.json", "best.pth", "confusions.npy", "workers.csv",
            "predictions.csv"} <= set(res["files"])

    conf = np.load(out / "confusions.npy")
    assert conf.shape == (6, 3, 3)
    np.testing.assert_allclose(conf.sum(axis=2), 1.0, atol=1e-5)
    assert pd.read_csv(out / "workers.csv")["worker"].tolist() == list(range(6))
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == ["task", "label"] and len(pred) == 300
    _no_leftovers(tmp_path)

    # the error in results.json is the metric on the files written
    from crowdlearn.metrics import confusion_estimation_error

    true = np.load(sim / "confusions.npy")
    assert res["confusion_error"] == pytest.approx(confusion_estimation_error(true, conf),
                                                   rel=1e-5)


def test_music_with_test_set(data_dir: Path, tmp_path: Path) -> None:
    music = data_dir / "music"
    out = tmp_path / "music"
    assert main(["fit", str(music / "music_genre_mturk.csv"), "--task-col", "id",
                 "--worker-col", "annotator", "--label-col", "class",
                 "--features", str(music / "music_genre_gold.csv"),
                 "--test", str(music / "music_genre_test.csv"), "-s", "geocrowdnet-f",
                 *FAST, "--n-epochs", "2", "--quiet", "-o", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["n_tasks"] == 700 and res["n_workers"] == 44 and res["n_classes"] == 10
    assert res["input_shape"] == [124]  # the gold file's true 'class' is not a feature
    assert res["head_lr_used"] == pytest.approx(10 * 1e-3)  # geocrowdnet: 10x the lr default
    assert "train_accuracy" not in res and "val_accuracy" not in res  # no --truth given
    assert len(res["test_accuracy"]) == 2 and res["n_test"] == 300
    assert 0.0 < res["final_test_accuracy"] <= 1.0
    assert res["final_test_accuracy"] == pytest.approx(
        res["test_accuracy"][res["best_epoch"] - 1], abs=1e-6)
    names = {p.name for p in out.iterdir()}
    assert names == {"results.json", "best.pth", "confusions.npy", "workers.csv",
                     "predictions.csv", "test_predictions.csv"}
    assert len(pd.read_csv(out / "workers.csv")) == 44
    test = pd.read_csv(out / "test_predictions.csv")
    assert list(test.columns) == ["task", "label", "truth"] and len(test) == 300
    assert np.mean(test["label"] == test["truth"]) == pytest.approx(res["final_test_accuracy"])

    # the gold file's 'class' is the truth of the training tasks only when asked for
    gold = str(music / "music_genre_gold.csv")
    assert main(["fit", str(music / "music_genre_mturk.csv"), "--task-col", "id",
                 "--worker-col", "annotator", "--label-col", "class", "--features", gold,
                 "--truth", gold, *FAST, "--n-epochs", "1", "--quiet", "-o",
                 str(tmp_path / "truth")]) == 0
    res = json.loads((tmp_path / "truth" / "results.json").read_text())
    assert res["n_tasks_with_truth"] == 700 and len(res["val_accuracy"]) == 1
    assert res["inputs"]["truth"] == gold


def test_plot_confusion_matrices_writes_pngs(sim: Path, tmp_path: Path) -> None:
    out = tmp_path / "plots"
    assert _fit(sim, out, "--true-confusions", str(sim / "confusions.npy"), "-s", "crowdlayer",
                "--plot-confusion-matrices", "--quiet") == 0
    for name in ("confusions.png", "history.png"):
        data = (out / name).read_bytes()
        assert len(data) > 1000 and data.startswith(b"\x89PNG")


@pytest.mark.parametrize("kind", ["npy", "columns", "label-column"])
def test_feature_sources(sim: Path, tmp_path: Path, kind: str) -> None:
    frame = pd.read_csv(sim / "features.csv")
    extra: list[str] = []
    if kind == "npy":  # no ids: rows are the tasks in the answers' order
        features = tmp_path / "X.npy"
        np.save(features, frame.iloc[:, 1:].to_numpy(np.float32))
        expected = [6]
    elif kind == "columns":
        features = sim / "features.csv"
        extra = ["--features-columns", "f0,f1", "f2"]
        expected = [3]
    else:  # a numeric 'label' column is never a feature
        features = tmp_path / "with_label.csv"
        frame.assign(label=np.arange(len(frame)) % 3).to_csv(features, index=False)
        expected = [6]
    out = tmp_path / "out"
    assert main(["fit", str(sim), "--features", str(features), *extra, *FAST, "--quiet",
                 "-o", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["input_shape"] == expected


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(("extra", "message"), [
    (["--K", "5"], "--K 5 but the answers have 3 classes"),
    (["--M", "2"], "--M 2 but the answers have 6 workers"),
    (["-s", "nope"], "unknown end-to-end strategy 'nope'"),
    (["-s", "ds"], "-s two-stage --aggregator ds"),
    (["-s", "crowdlayer[nope=1]"], "has no parameter nope"),
    (["--regularization_type", "F", "-s", "crowdlayer"], "--regularization_type F means"),
    (["--val-fraction", "1.5"], "--val-fraction"),
    (["--patience", "3", "--val-fraction", "0"], "patience needs a selection score"),
])
def test_bad_options_are_one_line_errors(sim: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         extra: list[str], message: str) -> None:
    out = tmp_path / "out"
    assert _fit(sim, out, *extra) == 2
    assert message in _one_line_error(capsys)
    assert not out.exists()
    _no_leftovers(tmp_path)


def test_tasks_without_features_name_the_file(sim: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    partial = tmp_path / "partial.csv"
    pd.read_csv(sim / "features.csv").iloc[:-2].to_csv(partial, index=False)
    out = tmp_path / "out"
    assert main(["fit", str(sim), "--features", str(partial), *FAST, "-o", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "partial.csv" in err and "no features for 2 of 300 tasks" in err
    assert not out.exists()


def test_test_labels_must_be_known_classes(sim: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    test = tmp_path / "test.csv"
    frame = pd.read_csv(sim / "features.csv").head(20)
    frame["class"] = 7
    frame.to_csv(test, index=False)
    assert _fit(sim, tmp_path / "out", "--test", str(test)) == 2
    err = _one_line_error(capsys)
    assert "test.csv" in err and "7" in err


def test_true_confusions_with_wrong_classes(sim: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((6, 4, 4), 0.25))
    assert _fit(sim, tmp_path / "out", "--true-confusions", str(bad)) == 2
    assert "4 classes in the confusion matrices but 3" in _one_line_error(capsys)


# ---------------------------------------------------------------------- atomic output
def test_failure_while_writing_leaves_no_output(sim: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import crowdlearn.plots

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(crowdlearn.plots, "plot_training_history", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        _fit(sim, out, "--plot-confusion-matrices", "--quiet")
    assert not out.exists()
    _no_leftovers(tmp_path)


def test_non_empty_output_needs_force(sim: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert _fit(sim, out, "--quiet") == 2
    assert "not empty" in _one_line_error(capsys)
    assert (out / "keep.txt").exists()
    assert _fit(sim, out, "--quiet", "--force") == 0
    assert not (out / "keep.txt").exists() and (out / "results.json").exists()
    _no_leftovers(tmp_path)


# ---------------------------------------------------------------------- save / load
@pytest.mark.parametrize("strategy", ["geocrowdnet-w", "two-stage[aggregator=ds]", "conal"])
def test_save_load_round_trip(sim: Path, tmp_path: Path, one_thread: None,
                              strategy: str) -> None:
    from crowdlearn.deep import CrowdClassifier
    from crowdlearn.deep.results import load_model, save_model
    from crowdlearn.io import read, read_features

    answers = read(sim)
    X = read_features(sim / "features.csv", answers)
    clf = CrowdClassifier("mlp", strategy=strategy, n_epochs=2, device="cpu",
                          backbone_params={"hidden": (8,)}).fit(X, answers)
    path = save_model(clf, tmp_path / "model.pth")
    back = load_model(path)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X.X), clf.predict(X.X))
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.worker_ids_, clf.worker_ids_)
    np.testing.assert_array_equal(back.confusions_, clf.confusions_)
    assert back.best_epoch_ == clf.best_epoch_ and back.history_ == clf.history_
    assert back.get_params()["strategy"] == strategy


def test_cli_model_reloads_with_the_same_predictions(sim: Path, tmp_path: Path) -> None:
    from crowdlearn.deep.results import load_model
    from crowdlearn.io import read_features

    out = tmp_path / "out"
    assert _fit(sim, out, "--quiet") == 0
    clf = load_model(out / "best.pth")
    pred = clf.predict(read_features(sim / "features.csv"))
    assert pred.tolist() == pd.read_csv(out / "predictions.csv")["label"].tolist()
    np.testing.assert_allclose(clf.confusions_, np.load(out / "confusions.npy"))


def test_load_model_rejects_other_files(tmp_path: Path) -> None:
    import torch

    from crowdlearn.deep.results import load_model
    from crowdlearn.errors import DataError

    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(DataError, match="not a crowdlearn model file"):
        load_model(tmp_path / "other.pth")


# ---------------------------------------------------------------------- true confusions
def test_true_confusions_are_matched_by_worker_id(tmp_path: Path) -> None:
    from crowdlearn.deep.results import load_true_confusions
    from crowdlearn.errors import DataError
    from crowdlearn.io import read

    out = tmp_path / "sparse"
    assert main(["simulate", "-o", str(out), "--n-tasks", "30", "--n-workers", "15",
                 "--p", "0.05", "--seed", "1", "--quiet"]) == 0
    answers = read(out)
    true = np.load(out / "confusions.npy")
    assert answers.n_workers < len(true)  # workers without answers are not read back
    got = load_true_confusions(out / "confusions.npy", answers)
    np.testing.assert_array_equal(got, true[answers.worker_ids])

    # .npz with ids, in another order
    order = np.arange(len(true))[::-1]
    np.savez(tmp_path / "c.npz", confusions=true[order], worker_ids=order)
    np.testing.assert_array_equal(load_true_confusions(tmp_path / "c.npz", answers), got)
    # columns = true class (the CCEM papers' convention): a hint to transpose
    skewed = np.stack([np.array([[0.5, 0.2, 0.1], [0.3, 0.6, 0.2], [0.2, 0.2, 0.7]])] * 15)
    with pytest.raises(DataError, match="transpose"):
        load_true_confusions(skewed, answers)
    # string worker ids: one matrix per worker, in the answers' order
    renamed = answers.to_frame()
    renamed["worker"] = "w" + renamed["worker"].astype(str)
    named = read(renamed)
    np.testing.assert_array_equal(load_true_confusions(got, named), got)
    with pytest.raises(DataError, match="15 confusion matrices for"):
        load_true_confusions(true, named)


# ---------------------------------------------------------------------- options
def test_reference_cli_spellings() -> None:
    args = build_parser().parse_args([
        "fit", "data.csv", "--features", "f.csv", "-o", "out", "--n_epoch", "7",
        "--batch_size", "32", "--lambda_reg", "0.01", "--accelerator", "cpu",
        "--classifier_NN", "lenet", "--use_pretrained", "--plot_confusion_matrices",
        "--K", "10", "--M", "44", "--regularization_type", "W", "--conn_type", "VW",
        "--experiment_name", "x", "--selection", "val-accuracy"])
    assert (args.n_epochs, args.batch_size, args.lam, args.accelerator) == (7, 32, 0.01, "cpu")
    assert args.backbone == "lenet" and args.pretrained and args.plot_confusion_matrices
    assert (args.K, args.M, args.conn_type, args.experiment_name) == (10, 44, "VW", "x")
    assert args.regularization_type == "W" and args.selection == "val_accuracy"
    ours = build_parser().parse_args(["fit", "d", "--features", "f", "-o", "o",
                                      "--n-epochs", "5", "--lambda", "0.1", "--lam", "0.2"])
    assert ours.n_epochs == 5 and ours.lam == 0.2 and ours.strategy is None


def test_help_has_example_and_imports_no_torch() -> None:
    probe = ("import sys\nfrom crowdlearn.cli import main\ntry:\n    main(['fit', '--help'])\n"
             "except SystemExit:\n    pass\nprint('TORCH' if 'torch' in sys.modules else 'NONE')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "Example:" in out and "--true-confusions" in out
    assert out.strip().splitlines()[-1] == "NONE"



def test_patience_stops_training_early(sim: Path, tmp_path: Path, one_thread: None) -> None:
    out = tmp_path / "early"
    assert _fit(sim, out, "--n-epochs", "200", "--lr", "0.05", "--patience", "2", "--quiet") == 0
    res = json.loads((out / "results.json").read_text())
    assert res["n_epochs"] < 200 and len(res["val_loss"]) == res["n_epochs"]
    assert res["best_epoch"] == int(np.argmin(res["val_loss"])) + 1
    assert res["n_epochs"] - res["best_epoch"] == 2
