"""What each algorithm is, declared without loading it: its hyperparameters and capabilities.

Everything outside a model reads these declarations rather than knowing models by name:
``recs.batch.config`` checks ``RECS_ALGORITHM``, ``RECS_DISCOVERY`` and every algorithm
setting against them at cold start (and so at ``cdk synth``); training builds a model's
constructor arguments from the settings its parameters name and asks its capabilities how to
fit it, what to exclude and whether to top its lists up; the nightly tuning takes its grid
and the order of its stages from them. None of that loads a model, so this module imports
only the standard library: the weight function's layers carry no scipy, and the promote and
admin functions no science at all.

Each model class points at its declaration (``Recommender.spec``). ``SPECS`` is the one list
of algorithm names; ``recs.algorithms.registry`` maps each to its class and refuses to load
when the two disagree, and tests/algorithms/test_declarations.py holds every declaration to
its constructor and its behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from recs.exceptions import RecommenderError

# "a+b" names the ensemble of the discovery models a and b.
SEPARATOR = "+"

# The batch settings by name: ``BatchConfig.as_dict()``.
Settings = Mapping[str, Any]

# What becomes of items a user already bought (see ``Spec.repeats``).
Repeats = Literal["never", "always", "by_category"]

# Where a tuned parameter sits in the nightly coordinate descent (see ``Param.tune``).
Tune = Literal["lead", "choice", "early", "late"]


@dataclass(frozen=True)
class Param:
    """One hyperparameter: a constructor argument of the model.

    ``default`` is the constructor's default. ``low``/``high`` bound it (``low_open``: strictly
    above ``low``), ``choices`` lists the strings it may be, and ``names_discovery`` says it
    names a discovery model or an ensemble of them. ``setting`` is the ``BatchConfig`` field
    (environment variable ``RECS_<SETTING>``) the batch sets it from; without one the batch
    uses the default. Several models may share a setting (``neighbours``), with the same
    bounds and grid. ``derive`` builds an argument that is not one setting's value (a
    composite's parts' arguments, the ensemble's weights from ``ensemble_weight``); its
    bounds then describe the setting.

    ``grid`` holds the values the nightly tuning tries (none: not tuned), ``tune`` where in
    its order: ``lead`` first and again last, ``choice`` (picks a part) before and after the
    ``early`` parameters, ``late`` after them. ``refit=False`` marks a parameter that
    takes effect when ranking, so a fitted model can take a new value (``set_params``).
    ``new_items_only`` marks a parameter that changes only how items new to the user rank
    (a blend's popularity prior): the tuning chooses it, as it does a ``names_discovery``
    parameter and every parameter of the model that one names, on the discovery objective
    (items new to the user), and the others on the next-basket one.
    """

    name: str
    kind: type
    default: object
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    names_discovery: bool = False
    setting: str | None = None
    grid: tuple[Any, ...] = ()
    tune: Tune = "late"
    refit: bool = True
    derive: Callable[[str, Settings], object] | None = None
    new_items_only: bool = False

    def problem(self, value: object) -> str | None:
        """Why ``value`` is refused, or None when it is accepted."""
        if self.choices and value not in self.choices:
            return f"must be one of {list(self.choices)}"
        if self.names_discovery and not (isinstance(value, str) and is_discovery(value)):
            return (f"must be one of {discovery_names()}, or distinct ones joined with "
                    f"'{SEPARATOR}' (an ensemble)")
        if self.low is None and self.high is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"must be a number, got {value!r}"
        if self.low is not None and self.high is not None:
            inside = (value > self.low if self.low_open else value >= self.low) and (
                value <= self.high)
            opening = "(" if self.low_open else "["
            return None if inside else f"must lie in {opening}{self.low:g}, {self.high:g}]"
        if self.low is not None:
            if self.low_open:
                return None if value > self.low else f"must be > {self.low:g}"
            return None if value >= self.low else f"must be >= {self.low:g}"
        assert self.high is not None
        return None if value <= self.high else f"must be <= {self.high:g}"


@dataclass(frozen=True)
class Spec:
    """One algorithm: its name, its hyperparameters and what it can do.

    - ``discovery``: finds items new to the user, so it may be a blend's discovery part or
      an ensemble member (an ensemble of such models may be a discovery part, never a member).
    - ``similarity``: has item neighbours, an items x items similarity behind its scores, its
      reasons and "similar items" (a composite's come from its parts: it may have none).
    - ``item_weights``: ``fit`` takes one repeat weight per item, which the batch makes from
      ``RECS_BLEND_WEIGHT`` and ``RECS_BLEND_CATEGORY_WEIGHTS``.
    - ``repeats``: items the user bought are ``never`` recommended again, ``always`` may be,
      or only ``by_category``, where their category is a listed repeat kind.
    - ``new_items``: the batch tops its lists up with items new to the user, for a model
      whose lists may fill up with the user's own history.
    - ``configurable``: ``RECS_ALGORITHM`` may name it (the ensemble is named by its members).
    - ``tuning_max_events``: the nightly tuning does not try it on a larger window (its fit
      would not fit the time box).
    - ``sessions``: it fits on the window's sessions (sessions x items, see
      ``recs.batch.sessions``), not on the users' histories, which it only queries with.
    """

    name: str
    summary: str
    params: tuple[Param, ...] = ()
    discovery: bool = False
    similarity: bool = False
    item_weights: bool = False
    repeats: Repeats = "never"
    new_items: bool = False
    configurable: bool = True
    tuning_max_events: int | None = None
    sessions: bool = False

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise RecommenderError(f"{self.name}: unknown parameter {name!r}; declared: "
                               f"{[p.name for p in self.params]}")

    def check_names(self, params: Mapping[str, object]) -> None:
        """Refuse parameters the declaration does not name."""
        unknown = sorted(set(params) - {p.name for p in self.params})
        if unknown:
            raise RecommenderError(f"{self.name}: unknown parameters {unknown}; declared: "
                                   f"{[p.name for p in self.params]}")


def member_names(name: str) -> list[str]:
    """``"rp3beta+als"`` -> ``["rp3beta", "als"]``; a single model -> ``[name]``."""
    return name.split(SEPARATOR)


def _neighbours(default: int) -> Param:
    return Param("neighbours", int, default, low=1, setting="neighbours",
                 grid=(20, 50, 100, 200, 400), tune="early")


def _ensemble_weights(name: str, settings: Settings) -> list[float]:
    """The first member's share is ``ensemble_weight``; the others split the rest equally."""
    members = member_names(name)
    share = settings["ensemble_weight"]
    rest = (1.0 - share) / (len(members) - 1)
    return [share] + [rest] * (len(members) - 1)


def _member_arguments(name: str, settings: Settings) -> dict[str, dict[str, object]]:
    return {member: arguments(member, settings) for member in member_names(name)}


def _discovery_arguments(name: str, settings: Settings) -> dict[str, object]:
    return arguments(settings["discovery"], settings)


_SHRINKAGE_GRID = (0.0, 10.0, 50.0)

# Parameters are declared in the order the nightly tuning tries them.
COSINE = Spec("cosine", "item-item cosine with shrinkage", (
    _neighbours(50),
    Param("shrinkage", float, 10.0, low=0, setting="shrinkage", grid=_SHRINKAGE_GRID),
    Param("alpha", float, 0.5, low=0, high=1, setting="cosine_alpha"),
), discovery=True, similarity=True)

BM25 = Spec("bm25", "item-item on BM25-weighted interactions", (
    _neighbours(50),
    Param("k1", float, 1.2, low=0, low_open=True, setting="bm25_k1"),
    Param("b", float, 0.75, low=0, high=1, setting="bm25_b"),
    Param("shrinkage", float, 0.0, low=0),
    Param("normalize", bool, False),
), discovery=True, similarity=True)

TFIDF = Spec("tfidf", "item-item cosine on TF-IDF-weighted interactions", (
    _neighbours(50),
    Param("shrinkage", float, 0.0, low=0, setting="shrinkage", grid=_SHRINKAGE_GRID),
), discovery=True, similarity=True)

SWING = Spec("swing", "item-item on Swing (pairs of users who share items)", (
    _neighbours(50),
    Param("alpha", float, 1.0, low=0, low_open=True, setting="swing_alpha"),
    Param("user_alpha", float, 5.0, low=0),
    Param("user_power", float, 0.35, low=0),
    Param("max_users_per_item", int, 100, low=2),
), discovery=True, similarity=True)

RP3BETA = Spec("rp3beta", "three-step random walk with the destination's popularity divided out", (
    _neighbours(100),
    Param("beta", float, 0.25, low=0, setting="rp3_beta", grid=(0.0, 0.25, 0.5)),
    Param("alpha", float, 0.5, low=0, low_open=True, setting="rp3_alpha", grid=(0.5, 1.0)),
), discovery=True, similarity=True)

EASE = Spec("ease", "closed-form item-item linear model on the head, RP3beta on the tail", (
    _neighbours(100),
    Param("l2", float, 200.0, low=0, low_open=True, setting="ease_l2"),
    Param("max_items", int, 8000, low=1, setting="ease_max_items"),
    Param("beta", float, 0.25, low=0, setting="rp3_beta"),
), discovery=True, similarity=True)

ALS = Spec("als", "implicit-feedback matrix factorisation (numpy conjugate gradient)", (
    Param("factors", int, 64, low=1, setting="als_factors"),
    Param("alpha", float, 1.0, low=0, low_open=True, setting="als_alpha", grid=(1.0, 10.0)),
    Param("regularization", float, 0.01, low=0, setting="als_regularization",
          grid=(0.01, 0.1)),
    Param("iterations", int, 15, low=1, setting="als_iterations"),
    Param("cg_steps", int, 3, low=1),
    Param("seed", int, 42),
    # About 30 s per 600k interactions on 2 CPUs, and the time box is checked between trials.
), discovery=True, tuning_max_events=1_000_000)

POPULARITY = Spec("popularity", "global popularity: users per item, or summed weight", (
    Param("by", str, "users", choices=("users", "weight")),
), discovery=True)

_SKNN_PARAMS = (
    Param("neighbours", int, 200, low=1),
    Param("beta", float, 0.0, low=0),
    Param("recency", float, 1.0, low=0),
)
# Each query's neighbourhood is a product with every stored row sharing an item: it grows
# with the window, so the tuning tries these only on windows up to this size.
SKNN = Spec("sknn", "shopper kNN: items of the shoppers whose histories are most like this one",
            _SKNN_PARAMS, discovery=True, tuning_max_events=2_000_000)
SKNN_SESSIONS = Spec("sknn_sessions", "session kNN: items of the past sessions most like this "
                     "shopper's history", _SKNN_PARAMS, discovery=True,
                     tuning_max_events=2_000_000, sessions=True)

REPURCHASE = Spec("repurchase", "the user's own history, ranked by weight and recency",
                  repeats="always")

BLEND = Spec("blend", "the user's history mixed with a discovery model, per category", (
    Param("weight", float, 0.5, low=0, high=1, setting="blend_weight",
          grid=(0.0, 0.3, 0.6, 0.9, 0.97, 0.995), tune="lead", refit=False),
    Param("discovery", str, "cosine", names_discovery=True, setting="discovery",
          grid=("cosine", "bm25", "swing", "rp3beta", "als", "rp3beta+als"), tune="choice"),
    Param("discovery_params", dict, None, derive=_discovery_arguments),
    Param("popularity", float, 0.0, low=0, high=1, setting="blend_popularity",
          grid=(0.0, 0.1, 0.3, 0.6), refit=False, new_items_only=True),
), similarity=True, item_weights=True, repeats="by_category", new_items=True)

ENSEMBLE = Spec("ensemble", "a weighted sum of discovery models' per-user normalised scores", (
    Param("members", tuple, ("rp3beta", "als")),
    Param("weights", list, None, low=0, high=1, setting="ensemble_weight", grid=(0.3, 0.5, 0.7),
          derive=_ensemble_weights),
    Param("member_params", dict, None, derive=_member_arguments),
), similarity=True, configurable=False)

SPECS: dict[str, Spec] = {spec.name: spec for spec in (
    COSINE, BM25, TFIDF, SWING, RP3BETA, EASE, ALS, POPULARITY, REPURCHASE, BLEND, ENSEMBLE,
    SKNN, SKNN_SESSIONS)}


def is_ensemble(name: str) -> bool:
    """``a+b``: two or more distinct discovery models whose scores are summed."""
    parts = member_names(name)
    return (len(parts) > 1 and len(set(parts)) == len(parts)
            and all(p in SPECS and SPECS[p].discovery for p in parts))


def is_discovery(name: str) -> bool:
    """A model of items new to the user: a discovery model, or an ensemble of them."""
    return is_ensemble(name) or (name in SPECS and SPECS[name].discovery)


def discovery_names() -> list[str]:
    return [name for name, spec in SPECS.items() if spec.discovery]


def configurable_names() -> list[str]:
    """What ``RECS_ALGORITHM`` may name besides an ensemble ``a+b``."""
    return [name for name, spec in SPECS.items() if spec.configurable]


def spec(name: str) -> Spec:
    """The declaration of ``name``; ``"a+b"`` is the ensemble's."""
    if SEPARATOR in name:
        return SPECS[ENSEMBLE.name]
    found = SPECS.get(name)
    if found is None:
        raise RecommenderError(f"unknown algorithm {name!r}; known: {sorted(SPECS)}")
    return found


def arguments(name: str, settings: Settings) -> dict[str, object]:
    """Constructor arguments of ``name`` from the batch settings: each parameter with a
    setting takes its value, a derived one is built, the others keep their defaults."""
    out: dict[str, object] = {}
    for p in spec(name).params:
        if p.derive is not None:
            out[p.name] = p.derive(name, settings)
        elif p.setting is not None:
            out[p.name] = settings[p.setting]
    return out


def parts(name: str, settings: Settings) -> list[str]:
    """The algorithms ``name`` is made of as configured: an ensemble's members, the model a
    parameter such as the blend's ``discovery`` names."""
    if SEPARATOR in name:
        return member_names(name)
    return [str(settings[p.setting]) for p in spec(name).params
            if p.names_discovery and p.setting is not None]


def fits_on_sessions(name: str, settings: Settings) -> bool:
    """Whether ``name`` as configured (its parts included) fits on the window's sessions."""
    return spec(name).sessions or any(fits_on_sessions(part, settings)
                                      for part in parts(name, settings))


def discovery_choices(name: str) -> list[str]:
    """The settings naming ``name``'s discovery part (the blend's ``discovery``): what a
    discovery model for short histories replaces. Empty for a model without one."""
    return [p.setting for p in spec(name).params if p.names_discovery and p.setting is not None]


def settings_of(name: str, settings: Settings, tuned: bool = False) -> list[str]:
    """The settings ``name`` reads as configured, its parts' included (only the tuned ones
    with ``tuned``), parts' first."""
    out: list[str] = []
    for part in parts(name, settings):
        out += [s for s in settings_of(part, settings, tuned) if s not in out]
    out += [p.setting for p in spec(name).params
            if p.setting is not None and (p.grid or not tuned) and p.setting not in out]
    return out


def setting_params() -> dict[str, list[tuple[Spec, Param]]]:
    """Every setting an algorithm declares, with the parameters it sets."""
    out: dict[str, list[tuple[Spec, Param]]] = {}
    for s in SPECS.values():
        for p in s.params:
            if p.setting is not None:
                out.setdefault(p.setting, []).append((s, p))
    return out


def setting_problems(settings: Settings) -> list[tuple[str, str]]:
    """(setting, why) for each declared setting whose value a parameter it sets refuses,
    or which ``settings`` lacks."""
    out: list[tuple[str, str]] = []
    for setting, users in setting_params().items():
        if setting not in settings:
            out.append((setting, f"{users[0][0].name} declares it but there is no such "
                                 "setting"))
            continue
        for _, p in users:
            problem = p.problem(settings[setting])
            if problem is not None:
                out.append((setting, problem))
                break
    return out


def setting_prefixes() -> set[str]:
    """The names that group algorithm settings (``als`` in ``RECS_ALS_FACTORS``) and the
    algorithms' own: a ``RECS_*`` variable starting with one must be a known setting."""
    heads = {setting.split("_", 1)[0] for setting in setting_params() if "_" in setting}
    return heads | set(SPECS)


def tuned_settings() -> list[str]:
    """Every setting some algorithm's tuning may change, in declaration order."""
    out: list[str] = []
    for s in SPECS.values():
        out += [p.setting for p in s.params
                if p.grid and p.setting is not None and p.setting not in out]
    return out


def grids() -> dict[str, tuple[Any, ...]]:
    """Each tuned setting's values (settings shared by several models share a grid)."""
    out: dict[str, tuple[Any, ...]] = {}
    for setting, users in setting_params().items():
        for _, p in users:
            if p.grid:
                out.setdefault(setting, p.grid)
    return out
