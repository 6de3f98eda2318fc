"""Every estimator parameter is declared in one place (crowdlearn.params) and checked there.

The tests walk the registries (aggregation strategies, crowd heads, backbones) and
CrowdClassifier: every constructor parameter must have a spec, every default must pass it, and
every bad value a spec lists must be refused, through ``make_strategy`` / ``make_head`` /
``make_backbone`` and through ``fit`` of the Python API. A new estimator or parameter without a
spec fails here.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from crowdlearn import Answers
from crowdlearn.aggregate import base as agg_base
from crowdlearn.aggregate import make_strategy
from crowdlearn.cli import main
from crowdlearn.params import (
    Bool,
    Choice,
    Float,
    Int,
    ParameterError,
    Seed,
    check_params,
    missing_specs,
    specs_of,
)


def _strategies() -> list[type]:
    seen: list[type] = []
    for cls in agg_base._REGISTRY.values():
        if cls not in seen:
            seen.append(cls)
    return seen


def _cases(classes: list[type], skip: tuple[str, ...] = ()) -> list[tuple[type, str, object]]:
    out = []
    for cls in classes:
        own = inspect.signature(cls.__init__).parameters  # specs inherited but unused: skip
        for name, spec in specs_of(cls).items():
            if name in skip or name not in own:
                continue
            for bad in spec.bad_values():
                out.append(pytest.param(cls, name, bad, id=f"{cls.__name__}-{name}-{bad!r}"))
    return out


@pytest.fixture(scope="module")
def tiny() -> Answers:
    return Answers.from_arrays([0, 0, 0, 1, 1, 1, 2, 2], ["a", "b", "c"] * 2 + ["a", "b"],
                               [0, 0, 1, 1, 1, 0, 0, 1])


# ---------------------------------------------------------------------- the specs themselves
def test_specs_describe_and_refuse() -> None:
    assert Int(1).describe() == "an integer >= 1"
    assert Float(0, 1, high_open=True).describe() == "a number in [0, 1)"
    assert Float(0, low_open=True, also=("empirical",)).describe() == \
        "a number > 0, or 'empirical'"
    assert Choice("mv", "spectral").describe() == "one of mv, spectral"
    assert Int(1, none=True).describe() == "an integer >= 1, or none"
    assert not Int(0).accepts(True) and not Int(0).accepts(1.0) and Int(0).accepts(np.int64(3))
    assert Float().accepts(2) and not Float().accepts(math.nan) and not Float().accepts(math.inf)
    assert Float(finite=False).accepts(-math.inf)
    assert Choice("MW", "VW+B").accepts("vw+b") and not Choice("a").accepts(1)
    assert Bool().accepts(np.bool_(True)) and not Bool().accepts(1)
    assert Seed().accepts(np.random.default_rng(0)) and not Seed(objects=False).accepts(
        np.random.default_rng(0))
    with pytest.raises(ParameterError, match=r"^x: n must be an integer >= 1, got 'abc'$"):
        check_params("x", {"n": Int(1)}, {"n": "abc"})


# ---------------------------------------------------------------------- aggregation strategies
@pytest.mark.parametrize("cls", _strategies(), ids=lambda c: c.name)
def test_every_strategy_parameter_has_a_spec_its_default_passes(cls: type) -> None:
    assert missing_specs(cls) == [], f"{cls.__name__}: add these to param_specs"
    check_params(cls.__name__, specs_of(cls), cls().get_params())
    for name, spec in specs_of(cls).items():
        assert spec.bad_values(), f"{cls.__name__}.{name}: a spec must refuse something"


@pytest.mark.parametrize(("cls", "name", "bad"), _cases(_strategies()))
def test_strategies_refuse_bad_values(cls: type, name: str, bad: object, tiny: Answers) -> None:
    with pytest.raises(ParameterError, match=rf"strategy '{cls.name}': {name} must be "):
        make_strategy(cls.name, **{name: bad})
    est = cls(**{name: bad})  # scikit-learn style: the constructor stores, fit checks
    with pytest.raises(ParameterError, match=rf"^{cls.__name__}: {name} must be .*, got "):
        est.fit(tiny)


@pytest.mark.parametrize(("spec", "message"), [
    ("ds[n_iter=abc]", "strategy 'ds': n_iter must be an integer >= 0, got 'abc'"),
    ("ds[tol=abc]", "strategy 'ds': tol must be a number, got 'abc'"),
    ("ds[init=foo]", "strategy 'ds': init must be one of mv, spectral, got 'foo'"),
    ("glad[n_iter=-5]", "strategy 'glad': n_iter must be an integer >= 0, got -5"),
    ("mace[method=gibbs]", "strategy 'mace': method must be one of vb, em, got 'gibbs'"),
])
def test_cli_bad_strategy_parameters_are_one_line_errors(
        tmp_path, capsys: pytest.CaptureFixture[str], spec: str, message: str) -> None:
    data = tmp_path / "a.csv"
    data.write_text("task,worker,label\n1,a,x\n1,b,y\n2,a,x\n2,b,x\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["aggregate", str(data), "-s", spec, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"crowdlearn aggregate: error: {message}"]
    assert not out.exists()
    name = spec.split("[")[0]
    key, value = spec[len(name) + 1:-1].split("=")
    assert main(["aggregate", str(data), "-s", name, "--param", f"{key}={value}",
                 "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"crowdlearn aggregate: error: {message}"


# ---------------------------------------------------------------------- deep learning
torch = pytest.importorskip("torch")


def _heads() -> list[type]:
    from crowdlearn.deep.heads import base as heads_base

    seen: list[type] = []
    for cls in heads_base._HEADS.values():
        if cls not in seen:
            seen.append(cls)
    return seen


def _backbones() -> list[tuple[str, object]]:
    from crowdlearn.deep.backbones import _REGISTRY

    return list(_REGISTRY.items())


@pytest.mark.parametrize("cls", _heads(), ids=lambda c: c.name)
def test_every_head_parameter_has_a_spec(cls: type) -> None:
    from crowdlearn.deep.heads.base import CONTEXT_ARGS

    assert missing_specs(cls, skip=CONTEXT_ARGS) == [], f"{cls.__name__}: add to param_specs"


@pytest.mark.parametrize(("cls", "name", "bad"), _cases(_heads()))
def test_heads_refuse_bad_values(cls: type, name: str, bad: object) -> None:
    from crowdlearn.deep.heads import make_head

    with pytest.raises(ParameterError, match=rf"strategy '{cls.name}': {name} must be "):
        make_head(cls.name, n_classes=2, n_workers=3, input_shape=(4,), **{name: bad})


def test_two_stage_checks_its_aggregator_parameters_when_built() -> None:
    from crowdlearn.deep.heads import make_head

    with pytest.raises(ParameterError, match="strategy 'ds': n_iter must be an integer"):
        make_head("two-stage", n_classes=2, n_workers=3, aggregator="ds[n_iter=abc]")


@pytest.mark.parametrize(("key", "entry"), _backbones(), ids=[k for k, _ in _backbones()])
def test_every_backbone_parameter_has_a_spec(key: str, entry) -> None:
    assert missing_specs(entry.cls, skip=entry.derived) == [], key


@pytest.mark.parametrize(
    ("key", "name", "bad"),
    [pytest.param(key, name, bad, id=f"{key}-{name}-{bad!r}")
     for key, entry in _backbones() for name, spec in specs_of(entry.cls).items()
     for bad in spec.bad_values()])
def test_backbones_refuse_bad_values(key: str, name: str, bad: object) -> None:
    from crowdlearn.deep.backbones import make_backbone

    shape = (4,) if key == "mlp" else (3, 32, 32)
    with pytest.raises(ParameterError, match=rf"backbone '{key}': {name} must be "):
        make_backbone(key, shape, 2, **{name: bad})


def test_crowd_classifier_parameters() -> None:
    from crowdlearn.deep import CrowdClassifier

    assert missing_specs(CrowdClassifier) == []
    check_params("CrowdClassifier", specs_of(CrowdClassifier), CrowdClassifier().get_params())


@pytest.mark.parametrize(("name", "bad"), [
    pytest.param(name, bad, id=f"{name}-{bad!r}")
    for name, spec in specs_of(__import__("crowdlearn.deep", fromlist=["CrowdClassifier"])
                               .CrowdClassifier).items()
    for bad in spec.bad_values()])
def test_crowd_classifier_fit_refuses_bad_values(name: str, bad: object, tiny: Answers) -> None:
    from crowdlearn.deep import CrowdClassifier

    clf = CrowdClassifier(device="cpu").set_params(**{name: bad})
    with pytest.raises(ParameterError, match=rf"^CrowdClassifier: {name} must be "):
        clf.fit(np.zeros((tiny.n_tasks, 4), dtype=np.float32), tiny)
