"""Every algorithm's declaration (recs.algorithms.catalog) against its class and behaviour.

Configuration, training and tuning read the declarations instead of knowing models by name,
so a declaration that drifts from its constructor, or a capability the model does not have,
would mis-train silently: these tests hold each one to the code.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recs.algorithms import catalog, simple
from recs.algorithms import registry as A
from recs.algorithms.base import Recommender
from recs.algorithms.catalog import Param, Spec
from recs.algorithms.knn import topk_per_row
from recs.batch import training
from recs.batch.config import BatchConfig
from recs.batch.evaluation import tuning
from recs.batch.weighting import weight_events
from recs.exceptions import ConfigError, RecommenderError
from tests.algorithms.test_training import AS_OF, lists, rice_milk_lamb

ROOT = Path(__file__).resolve().parents[2]
NAMES = list(catalog.SPECS)
BOUNDED = [(s.name, p.name) for s in catalog.SPECS.values() for p in s.params
           if p.derive is None and (p.low is not None or p.high is not None or p.choices
                                    or p.names_discovery)]
REFIT_FREE = [(s.name, p.name) for s in catalog.SPECS.values() for p in s.params if not p.refit]


def declared_defaults(name: str) -> dict[str, Any]:
    return {p.name: p.default for p in catalog.SPECS[name].params}


def fitted(name: str, board: sp.csr_matrix, **params: Any) -> Recommender:
    return A.create(name, **{**declared_defaults(name), **params}).fit(board, sessions=board)


def outside_and_inside(p: Param) -> tuple[object, object]:
    """A value the parameter refuses and one it accepts, at its bounds."""
    if p.choices:
        return "no such choice", p.choices[0]
    if p.names_discovery:
        return "repurchase", "cosine"
    step = 1 if p.kind is int else 0.01
    if p.high is not None:
        return p.high + step, p.high
    assert p.low is not None
    if p.low_open:
        return p.low, p.low + step
    return p.low - step, p.low


def test_every_declared_algorithm_has_its_class_and_every_class_its_declaration() -> None:
    assert set(A.MODELS) == set(catalog.SPECS)
    for name, cls in A.MODELS.items():
        assert cls.spec is catalog.SPECS[name] and cls.name == name
    A.check()


@pytest.mark.parametrize("name", NAMES)
def test_declared_parameters_are_the_constructors_with_its_defaults(name: str) -> None:
    spec = catalog.SPECS[name]
    signature = inspect.signature(A.MODELS[name].__init__)
    arguments = {k: v for k, v in signature.parameters.items() if k != "self"}
    # (in any order: a declaration lists its parameters in the order the tuning tries them)
    assert sorted(p.name for p in spec.params) == sorted(arguments)
    for p in spec.params:
        assert arguments[p.name].default == p.default, p.name
        assert p.default is None or isinstance(p.default, p.kind), p.name


@pytest.mark.parametrize("name", NAMES)
def test_a_model_is_made_from_its_declared_defaults_and_saves_exactly_them(name: str) -> None:
    model = A.create(name, **declared_defaults(name))
    assert set(model.get_params()) == {p.name for p in catalog.SPECS[name].params}


@pytest.mark.parametrize("name", NAMES)
def test_an_undeclared_parameter_is_refused(name: str) -> None:
    with pytest.raises(RecommenderError, match=f"{name}: unknown parameters \\['bogus'\\]"):
        A.create(name, bogus=1)


@pytest.mark.parametrize(("name", "param"), BOUNDED)
def test_declared_bounds_are_what_the_constructor_accepts(name: str, param: str) -> None:
    p = catalog.SPECS[name].param(param)
    outside, inside = outside_and_inside(p)
    assert p.problem(outside) is not None and p.problem(inside) is None
    with pytest.raises(RecommenderError):
        A.create(name, **{param: outside})
    A.create(name, **{param: inside})


@pytest.mark.parametrize("setting", sorted(catalog.setting_params()))
def test_a_setting_is_a_batch_field_with_one_meaning_and_a_valid_default(setting: str) -> None:
    users = catalog.setting_params()[setting]
    field = {f.name: f for f in dataclasses.fields(BatchConfig)}[setting]
    first = users[0][1]
    for _, p in users:
        assert (p.low, p.high, p.low_open, p.choices, p.names_discovery) == (
            first.low, first.high, first.low_open, first.choices, first.names_discovery)
        assert not p.grid or p.grid == catalog.grids()[setting]
        assert p.problem(getattr(BatchConfig(), setting)) is None
    assert field.default is not dataclasses.MISSING


@pytest.mark.parametrize("setting", sorted(catalog.setting_params()))
def test_a_setting_out_of_its_declared_bounds_is_a_config_error_naming_it(setting: str) -> None:
    p = catalog.setting_params()[setting][0][1]
    outside, _ = outside_and_inside(p) if p.derive is None else (p.high + 0.5, p.high)
    with pytest.raises(ConfigError, match=f"RECS_{setting.upper()}: must"):
        dataclasses.replace(BatchConfig(), **{setting: outside})


@pytest.mark.parametrize("name", NAMES)
def test_declared_capabilities_match_what_the_model_does(name: str, board) -> None:
    spec = catalog.SPECS[name]
    model = fitted(name, board)
    # similarity: item neighbours, one row per item, never the item itself
    neighbours = model.item_similarity()
    assert (neighbours is not None) == spec.similarity
    if neighbours is not None:
        assert neighbours.shape == (board.shape[1], board.shape[1])
        rows = np.repeat(np.arange(board.shape[1]), np.diff(neighbours.indptr))
        assert neighbours.nnz > 0 and not np.any(rows == neighbours.indices)
    # item_weights: fit takes one repeat weight per item, or refuses them
    weights = np.full(board.shape[1], 0.5)
    if spec.item_weights:
        A.create(name, **declared_defaults(name)).fit(board, item_weight=weights)
    else:
        with pytest.raises(RecommenderError, match="takes no item weights"):
            A.create(name, **declared_defaults(name)).fit(board, item_weight=weights)
    # repeats: a model of repeat purchases ranks the user's own items only
    ranked = model.rank(board, 5, filter_already_liked_items=False)
    users = np.repeat(np.arange(board.shape[0]), np.diff(ranked.indptr))
    owned = np.asarray(board[users, ranked.items]).ravel() > 0
    if spec.repeats == "always":
        assert owned.all()
    # reasons: every recommendation names an item of the user's history
    because = model.contributors(board, users, ranked.items)
    assert (np.asarray(board[users, because]).ravel() > 0).all()
    # discovery: may be a blend's discovery part and an ensemble member, or neither
    other = "rp3beta" if name != "rp3beta" else "cosine"
    if spec.discovery:
        A.create("blend", discovery=name)
        A.create(f"{name}+{other}")
    else:
        with pytest.raises(RecommenderError):
            A.create("blend", discovery=name)
        with pytest.raises(RecommenderError):
            A.create(f"{name}+{other}")


@pytest.mark.parametrize(("name", "param"), REFIT_FREE)
def test_a_parameter_declared_refit_free_takes_effect_on_a_fitted_model(
        name: str, param: str, board) -> None:
    p = catalog.SPECS[name].param(param)
    value = next(v for v in p.grid if v != p.default)
    model = fitted(name, board)
    model.set_params(**{param: value})
    if model.spec.item_weights:
        model.set_item_weight(None)
    fresh = fitted(name, board, **{param: value})
    for a, b in zip(model.rank(board, 6, False).padded(6), fresh.rank(board, 6, False).padded(6),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    refit = next(q for q in catalog.SPECS[name].params if q.refit)
    with pytest.raises(RecommenderError, match="needs a new fit"):
        model.set_params(**{refit.name: refit.default})


def test_the_tuning_order_comes_from_the_declarations() -> None:
    """The blend's and an item-item model's stages as the tuning walked them when it named
    them itself."""
    assert tuning.stages("blend", BatchConfig(), tuning.GRID) == [
        "blend_weight", "half_life_days", "discovery", "neighbours", "discovery", "shrinkage",
        "rp3_beta", "rp3_alpha", "als_alpha", "als_regularization", "ensemble_weight",
        "blend_popularity", "blend_weight", "per_category"]
    assert tuning.stages("cosine", BatchConfig(algorithm="cosine"), tuning.GRID) == [
        "half_life_days", "neighbours", "shrinkage"]
    assert tuning.stages("rp3beta+als", BatchConfig(algorithm="rp3beta+als"), tuning.GRID) == [
        "half_life_days", "neighbours", "rp3_beta", "rp3_alpha", "als_alpha",
        "als_regularization", "ensemble_weight"]
    blend_with_als = BatchConfig(discovery="als")
    assert not tuning.applies("neighbours", blend_with_als)
    assert tuning.applies("als_alpha", blend_with_als)
    assert not tuning.applies("per_category", BatchConfig(algorithm="cosine"))


def test_the_settings_are_the_arguments_training_builds() -> None:
    config = BatchConfig(neighbours=30, rp3_beta=0.5, ease_max_items=100)
    assert training.algorithm_params(config, "ease") == {
        "neighbours": 30, "l2": 200.0, "max_items": 100, "beta": 0.5}
    assert training.algorithm_params(config, "popularity") == {}
    blend = training.algorithm_params(config)
    assert blend["discovery_params"] == training.algorithm_params(config, "rp3beta")


# ---- configuration: unknown names and parameters fail at start-up and at synth ------------


@pytest.mark.parametrize("env", [
    {"RECS_ALS_FACTORZ": "3"}, {"RECS_RP3BETA_ALPHA": "0.5"}, {"RECS_BLEND_WIEGHT": "0.5"},
    {"RECS_POPULARITY_BY": "weight"},
])
def test_a_variable_named_for_an_algorithm_that_is_no_setting_is_refused(env) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        BatchConfig.from_env(env)


def test_other_recs_variables_are_left_to_their_readers() -> None:
    env = {"RECS_BUCKET": "b", "RECS_THREADS": "2", "RECS_MAX_PER_CATEGORY": "3",
           "RECS_SESSION_NEIGHBOURS": "20", "RECS_ALS_FACTORS": "8"}
    assert BatchConfig.from_env(env).als_factors == 8


@pytest.mark.parametrize(("env", "variable"), [
    ({"RECS_ALGORITHM": "magic"}, "RECS_ALGORITHM"),
    ({"RECS_ALGORITHM": "ensemble"}, "RECS_ALGORITHM"),  # named by its members, a+b
    ({"RECS_ALGORITHM": "repurchase+cosine"}, "RECS_ALGORITHM"),
    ({"RECS_DISCOVERY": "repurchase"}, "RECS_DISCOVERY"),
    ({"RECS_DISCOVERY": "ensemble"}, "RECS_DISCOVERY"),
    ({"RECS_NEIGHBOURS": "0"}, "RECS_NEIGHBOURS"),
    ({"RECS_SWING_ALPHA": "0"}, "RECS_SWING_ALPHA"),
])
def test_unknown_names_and_bad_values_name_the_variable(env, variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        BatchConfig.from_env(env)


@pytest.mark.parametrize(("settings", "variable"), [
    ({"algorithm": "magic"}, "RECS_ALGORITHM"),
    ({"discovery": "rp3beta+nope"}, "RECS_DISCOVERY"),
    ({"ease_l2": 0}, "RECS_EASE_L2"),
    ({"als_factorz": 3}, "unknown settings"),
])
def test_synthesis_refuses_them_too(settings, variable: str) -> None:
    from infra.stack import config_env

    with pytest.raises(ConfigError, match=variable):
        config_env(settings)


def test_a_batch_function_refuses_them_at_cold_start_without_scipy() -> None:
    """The weight function carries numpy and pyarrow but no scipy: its configuration check
    must not need the models."""
    script = textwrap.dedent("""
        import importlib.abc, importlib.util, os, sys

        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "scipy" or name.startswith("scipy."):
                    raise ImportError(f"{name} is not in this function's layers")
                return None

        sys.meta_path.insert(0, Refuse())
        os.environ.update({"RECS_BUCKET": "b", "AWS_DEFAULT_REGION": "us-east-1",
                           "RECS_REGISTRY_TABLE": "g", "RECS_ALS_FACTORZ": "8"})
        spec = importlib.util.spec_from_file_location("fn", sys.argv[1])
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    """)
    result = subprocess.run([sys.executable, "-c", script, str(ROOT / "functions/weight.py")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "ConfigError: RECS_ALS_FACTORZ" in result.stderr, result.stderr[-2000:]


# ---- a new algorithm: its class, its declaration, its line in the table --------------------


TINY = Spec("tiny", "items bought together, counted", (
    Param("neighbours", int, 5, low=1, setting="neighbours", grid=(20, 50, 100, 200, 400),
          tune="early"),
), discovery=True, similarity=True)


class CoBought(Recommender):
    """Scores an item by how often it was bought with the user's items."""

    spec = TINY
    sparse_scores = True

    def __init__(self, neighbours: int = 5) -> None:
        if neighbours < 1:
            raise RecommenderError(f"neighbours must be >= 1, got {neighbours}")
        self.neighbours = neighbours
        self.counts = sp.csr_matrix((0, 0), dtype=np.float32)

    def get_params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours}

    def _fit(self, user_items: sp.csr_matrix) -> None:
        bought = sp.csr_matrix(user_items > 0, dtype=np.float32)
        counts = sp.csr_matrix(bought.T @ bought)
        counts.setdiag(0)
        counts.eliminate_zeros()
        self.counts = topk_per_row(counts, self.neighbours)

    def _score(self, user_items: sp.csr_matrix, n: int) -> sp.csr_matrix:
        return sp.csr_matrix(user_items @ self.counts)

    def _similar(self, itemids: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(self.counts[itemids])

    def item_similarity(self) -> sp.csr_matrix:
        return self.counts


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> type[Recommender]:
    monkeypatch.setitem(catalog.SPECS, TINY.name, TINY)
    monkeypatch.setitem(simple.MODELS, TINY.name, CoBought)
    A.check()
    return CoBought


def test_a_new_algorithm_trains_through_the_batch_without_edits_elsewhere(tiny) -> None:
    config = BatchConfig.from_env({"RECS_ALGORITHM": "tiny", "RECS_NEIGHBOURS": "10"})
    model = training.train(weight_events(rice_milk_lamb(), config, AS_OF), config)
    got = lists(model, "C")
    lamb = [g for g in got if g[0] == "lamb"]
    assert lamb and lamb[0][1] in ("rice", "milk") and lamb[0][2] == "purchase"
    assert not {g[0] for g in got} & {"rice", "milk"}  # repeats: never
    items = model.item_ids.tolist()
    rice = items.index("rice")
    sim = model.similarity  # its own neighbours, not the cosine fallback
    assert "milk" in [items[j] for j in sim.indices[sim.indptr[rice]:sim.indptr[rice + 1]]]
    assert tuning.stages("tiny", config, tuning.GRID) == ["half_life_days", "neighbours"]
    # and as a discovery model: the blend's part, an ensemble's member
    for env in ({"RECS_DISCOVERY": "tiny"}, {"RECS_DISCOVERY": "tiny+rp3beta"},
                {"RECS_ALGORITHM": "rp3beta+tiny"}):
        config = BatchConfig.from_env({**env, "RECS_NEIGHBOURS": "10"})
        model = training.train(weight_events(rice_milk_lamb(), config, AS_OF), config)
        assert "lamb" in [g[0] for g in lists(model, "C")], env


def test_training_follows_a_new_algorithms_declared_capabilities(tiny, monkeypatch) -> None:
    """Declared repeats and new items are what training does with the model's lists."""
    class Repeating(CoBought):
        spec = dataclasses.replace(TINY, name="tiny2", repeats="always", new_items=True)

    monkeypatch.setitem(catalog.SPECS, "tiny2", Repeating.spec)
    monkeypatch.setitem(simple.MODELS, "tiny2", Repeating)
    asked: list[int] = []
    recommend = training.recommend

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs["new_items"])
        return recommend(*args, **kwargs)

    monkeypatch.setattr(training, "recommend", spy)
    for name, new_items in (("tiny", 0), ("tiny2", 25)):
        config = BatchConfig(algorithm=name, neighbours=10)
        model = training.train(weight_events(rice_milk_lamb(), config, AS_OF), config)
        again = {g[0] for g in lists(model, "C")} & {"rice", "milk"}
        assert bool(again) == (name == "tiny2")  # bought items come back only when declared
        assert asked[-1] == new_items
