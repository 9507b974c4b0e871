"""Every HTTP route of the product, declared once: the contract between shops and the API.

Each ``Route`` says which function serves it, who may call it, the parameters it takes, the
body it expects, and what it answers. Everything else derives from ``ROUTES``: the handlers
register their routes from it (``recs.api.routing`` refuses at import a route the table
lacks, or a table route left unhandled), the CDK app builds the API Gateway resources and
methods from it (``infra/constructs_api.py``), the local server dispatches by it
(``recs_local/server.py``) and ``GET /swagger`` publishes it as OpenAPI (``recs.api.openapi``).
A new route is one entry here and one handler.

Pure Python, cheap to import: the API function loads it on its cold start. The body
schemas describe what ``recs.intake`` validates; their limits are literals here, held equal to
the validators' constants by ``tests/unit/test_route_table.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from recs.contracts.access import MAX_TOKEN_LENGTH, SHOPPER_TOKEN
from recs.contracts.events import EVENT_TYPES
from recs.contracts.experiments import (
    METRICS,
    RATES,
    SERVING_OVERRIDES,
    STATUSES,
    SURFACES,
    UNITS,
    VariantCounts,
)
from recs.contracts.ops import ATTRIBUTION_COUNTS, DEFAULT_DAYS, HEALTH_COUNTS, MAX_DAYS
from recs.contracts.resources import ADMIN, API, INGEST

Schema = dict[str, Any]

API_TITLE = "recs: product recommendations"
API_VERSION = "0.1.0"
API_KEY_HEADER = "x-api-key"

_INTEGER = re.compile(r"[+-]?[0-9]+")  # what int() takes, less "1_000", spaces and other digits
_PATH_PARAM = re.compile(r"{(\w+)}")


class Access(Enum):
    """Who may call a route (``recs.contracts.access`` says why).

    API Gateway asks for a key (either) or a signature before any function runs; it cannot
    tell the two keys apart by route, so the functions refuse the storefront key on the
    routes that do not take it (``recs.api.access``)."""

    SERVER = "server"  # the shop's backend's key (x-api-key), throttled by its usage plan
    # The storefront key (public, more throttled) or the server key: a shopper's own lists
    # and events; naming a user_id with the storefront key takes that shopper's token.
    STOREFRONT = "storefront"
    PUBLIC = "public"  # anyone: only the API's own description, so a browser can open it
    IAM = "iam"  # a SigV4-signed request from an IAM identity allowed to invoke it (operators)

    @property
    def keyed(self) -> bool:
        """Whether API Gateway asks for an API key (either key) on the route."""
        return self in (Access.SERVER, Access.STOREFRONT)


@dataclass(frozen=True)
class Param:
    """One query or path parameter: an integer within bounds, a string of bounded length, or
    one of a few strings (``choices``, an OpenAPI ``enum``).

    Checked by hand per request (``recs.api.params``) rather than by Powertools' pydantic
    validation: pydantic and the OpenAPI models cost the API function about 90 ms of its cold
    start (``benchmarks/serving.py``), for parameters that are a few bounded strings and
    integers. The same declaration is the OpenAPI Parameter Object, so the two cannot drift.
    """

    name: str
    kind: type[int] | type[str]
    description: str
    default: int | str | None = None
    minimum: int | None = None  # the smallest value (int) or length (str)
    maximum: int | None = None  # the largest value (int) or length (str)
    location: str = "query"
    choices: tuple[str, ...] = ()  # a string parameter that must be one of these

    def parse(self, raw: str | None) -> int | str | None:
        """The typed value, the default when absent; ValueError names what is wrong."""
        if raw is None:
            if self.location == "path":
                raise ValueError("is required")
            return self.default
        if self.kind is int:
            if not _INTEGER.fullmatch(raw):
                raise ValueError(f"must be an integer, got {raw[:40]!r}")
            value = int(raw)
            self._within(value, "")
            return value
        if self.choices:
            if raw not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, got {raw[:40]!r}")
            return raw
        self._within(len(raw), "character")
        return raw

    def _within(self, size: int, unit: str) -> None:
        if self.minimum is not None and size < self.minimum:
            raise ValueError(f"must be at least {_amount(self.minimum, unit)}")
        if self.maximum is not None and size > self.maximum:
            raise ValueError(f"must be at most {_amount(self.maximum, unit)}")

    def with_default(self, default: int | str) -> Param:
        return Param(self.name, self.kind, self.description, default, self.minimum,
                     self.maximum, self.location, self.choices)

    def schema(self) -> Schema:
        """This parameter as an OpenAPI 3 Parameter Object."""
        bounds = ("minimum", "maximum") if self.kind is int else ("minLength", "maxLength")
        schema: Schema = {"type": "integer" if self.kind is int else "string"}
        for key, bound in zip(bounds, (self.minimum, self.maximum), strict=True):
            if bound is not None:
                schema[key] = bound
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        return {"name": self.name, "in": self.location, "required": self.location == "path",
                "description": self.description, "schema": schema}


def _amount(bound: int, unit: str) -> str:
    """``5``, ``1 character long``, ``256 characters long``."""
    return f"{bound} {unit}{'s' if bound != 1 else ''} long" if unit else str(bound)


@dataclass(frozen=True)
class Reply:
    """One response of a route: what it means, and the component schema(s) of its body."""

    description: str
    schemas: tuple[str, ...] = ("Error",)  # names in SCHEMAS; several: the body is one of them


@dataclass(frozen=True)
class Route:
    """One HTTP method on one path, and everything the API says about it."""

    method: str
    path: str  # API Gateway's and OpenAPI's syntax: /items/{item_id}/similar
    function: str  # the FunctionSpec.name of the function that serves it
    name: str  # the OpenAPI operationId
    summary: str
    description: str = ""
    access: Access = Access.SERVER
    # Path parameters left out are strings of 1-256 characters; a storefront route takes
    # the shopper token besides (TOKEN).
    params: tuple[Param, ...] = ()
    body: str | None = None  # the request body's name in SCHEMAS
    body_required: bool = True  # False: the body may be left out (it has defaults)
    responses: Mapping[int, Reply] = field(default_factory=dict)  # 200 included
    documented: bool = True  # False: served, but not an operation of the OpenAPI document

    def __post_init__(self) -> None:
        named = {param.name for param in self.params}
        in_path = _PATH_PARAM.findall(self.path)
        stray = [p.name for p in self.params if p.location == "path" and p.name not in in_path]
        if stray:
            raise ValueError(f"{self.key}: path parameters {stray} are not in the path")
        if self.method != self.method.upper():
            raise ValueError(f"{self.key}: the method is not in capitals")
        object.__setattr__(self, "params", self.params + tuple(
            Param(name, str, f"The {name.replace('_', ' ')}", minimum=1, maximum=256,
                  location="path")
            for name in in_path if name not in named))
        if self.access is Access.STOREFRONT and SHOPPER_TOKEN not in named:
            object.__setattr__(self, "params", (*self.params, TOKEN))

    @property
    def key(self) -> str:
        """``GET /items/{item_id}/similar``: how handlers name the route they serve."""
        return f"{self.method} {self.path}"

    @property
    def rule(self) -> str:
        """Powertools' syntax of the path: /items/<item_id>/similar."""
        return _PATH_PARAM.sub(r"<\1>", self.path)

    @property
    def public(self) -> bool:
        return self.access is Access.PUBLIC

    @property
    def admin(self) -> bool:
        return self.access is Access.IAM

    def matches(self, path: str) -> bool:
        """Whether a request path (no query string) is this route's path."""
        return _pattern(self.path).fullmatch(path.rstrip("/") or "/") is not None


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(path: str) -> re.Pattern[str]:
    if path not in _PATTERNS:
        _PATTERNS[path] = re.compile(
            "".join("[^/]+" if part.startswith("{") else re.escape(part)
                    for part in re.split(r"({\w+})", path)))
    return _PATTERNS[path]


def routes_of(function: str, table: Sequence[Route] | None = None) -> list[Route]:
    """The routes one function serves."""
    return [route for route in (ROUTES if table is None else table) if route.function == function]


def routes_at(path: str, table: Sequence[Route] | None = None) -> list[Route]:
    """The routes of a request path, under any method."""
    return [route for route in (ROUTES if table is None else table) if route.matches(path)]


# --- parameters --------------------------------------------------------------------------

NUM_ITEMS = Param("num_items", int, "How many items to return (1-100)", 10, 1, 100)
USER_ID = Param("user_id", str, "The shopper's id, when they are known", None, 1, 256)
SESSION_ID = Param("session_id", str, "The browsing session's id, for in-session picks",
                   None, 1, 256)
CATEGORY = Param("category", str, "Only items of this category (or its subcategories)",
                 None, 1, 256)
ITEM_ID = Param("item_id", str, "The item id", None, 1, 256, "path")
VERSION = Param("version", str, "A stored model version", minimum=1, maximum=64,
                location="path")
FORMAT = Param("format", str, "json: the OpenAPI document itself; otherwise Swagger UI's page")
DAYS = Param("days", int, f"How many UTC days, today included (1-{MAX_DAYS})", DEFAULT_DAYS,
             1, MAX_DAYS)
# What a shopper's list leaves out of what they did (``recs.serving.service``): ``purchased``
# their bought items outside repeat-purchase categories (the default), ``seen`` every item
# they interacted with (their recent events and their nightly history: a discovery list),
# ``none`` nothing of theirs.
EXCLUDE_PURCHASED, EXCLUDE_SEEN, EXCLUDE_NONE = "purchased", "seen", "none"
EXCLUDE = Param("exclude", str,
                "Which of the shopper's own items to leave out: purchased (bought items, "
                "except in repeat-purchase categories), seen (every item they interacted "
                "with, recently or in their nightly history: only items new to them) or none",
                EXCLUDE_PURCHASED, choices=(EXCLUDE_PURCHASED, EXCLUDE_SEEN, EXCLUDE_NONE))
TOKEN = Param(SHOPPER_TOKEN, str, "With the storefront key, required to name a user_id: the "
              "shopper token the shop's backend issued to that shopper (the server key needs "
              "none)", None, 1, MAX_TOKEN_LENGTH)
EXPERIMENT_ID = Param("experiment_id", str, "An experiment's id, as POST /experiments answered",
                      minimum=1, maximum=64, location="path")


# --- schemas (OpenAPI 3.0 Schema Objects, the document's components) -----------------------

def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: Schema, required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def _text(description: str, maximum: int = 256, **extra: Any) -> Schema:
    return {"type": "string", "maxLength": maximum, "description": description, **extra}


def _optional(schema: Schema) -> Schema:
    """``schema`` or null. OpenAPI 3.0's ``nullable`` only widens a ``type`` beside it, so a
    ``oneOf`` takes it on its first alternative (null then matches exactly one)."""
    if "oneOf" in schema:
        first, *others = schema["oneOf"]
        return {**schema, "oneOf": [{**first, "nullable": True}, *others]}
    return {**schema, "nullable": True}


_ID: Schema = {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 256},
                         {"type": "integer"}],
               "description": "Text of 1-256 characters (trimmed) or a whole number"}
_TIMESTAMP: Schema = {
    "oneOf": [{"type": "string"}, {"type": "integer", "minimum": 946_684_800_000}],
    "description": "ISO-8601 text (UTC when it carries no offset) or epoch milliseconds",
}
_LIMITS = "At most 500 entries and 1,000,000 bytes per request; more answers 413."
_COUNT: Schema = {"type": "integer", "minimum": 0}
_TIERS = ("session", "personalised", "new_arrival", "long_tail", "similar",
          "category_trending", "trending")
_VERSION_STATUS = "training, exported, rejected, live, archived or failed"


def _recommendations(description: str, **properties: Schema) -> Schema:
    """A recommendation list (``RecommendationList.to_dict``) and what the request asked."""
    return _object({
        **properties,
        "recommendation_id": {"type": "string", "description":
                              "Echo it in the events this list leads to (attribution)"},
        "model_version": _optional({"type": "string", "description":
                                    "The model that served it; null before the first"}),
        "tiers": {"type": "array", "items": {"type": "string", "enum": list(_TIERS)},
                  "description": "The tiers the items came from, in order"},
        "items": {"type": "array", "items": _ref("RecommendedItem")},
        "experiment": {"type": "object", "description":
                       "Only when the shopper is in a running experiment: its id and the "
                       "variant served (the recommendation ids carry both)",
                       "properties": {"id": {"type": "string"}, "variant": {"type": "string"}},
                       "required": ["id", "variant"], "additionalProperties": False},
    }, ("recommendation_id", "model_version", "tiers", "items", *properties),
        description=description)


def _model_version() -> Schema:
    """A registry record (``ModelVersion.to_dict``)."""
    return _object({
        "version": {"type": "string"},

        "status": {"type": "string", "description": _VERSION_STATUS},
        "created_at": {"type": "string"},
        "window_start": {"type": "string"}, "window_end": {"type": "string"},
        "params": {"type": "object", "description": "The algorithm and its hyperparameters"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"},
                   "description": "Events, users, items, interactions it was trained on"},
        "metrics": {"type": "object", "description": "The evaluation that gated it"},
        "prefix": {"type": "string"}, "reason": {"type": "string"},
        "promoted_at": {"type": "string"},
    }, ("version", "status", "created_at"))


def _variant() -> Schema:
    """A variant as declared and as stored (``recs.experiments.definition``). Only what the
    validator refuses as sent is a constraint here; the rest is said in words."""
    settings = {name: {"type": "integer" if whole else "number", "minimum": low,
                       "maximum": high}
                for name, (whole, low, high) in SERVING_OVERRIDES.items()}
    return _object({
        "name": {"type": "string", "minLength": 1,
                 "description": "Unique in the experiment, at most 64 characters (trimmed)"},
        "weight": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "default": 1,
                   "description": "Its share of the units is its weight over the sum"},
        "control": {"type": "boolean", "description":
                    "The baseline: serves trending, takes no model_version or settings"},
        "model_version": {"type": "string", "minLength": 1, "description":
                          "A stored model version to serve (default: the live model)"},
        "settings": _object(settings, additionalProperties=False, description=(
            "Serving settings over the function's own; new_arrival_share + "
            "long_tail_share at most 1")),
    }, ("name",), additionalProperties=False)


def _experiment(required: tuple[str, ...] = (), **more: Schema) -> Schema:
    """A stored experiment (``recs.contracts.experiments.Experiment``) and ``more``."""
    return _object({
        "id": {"type": "string", "description": "Its creation time and a random suffix"},
        "name": {"type": "string"},
        "surface": {"type": "string", "enum": list(SURFACES)},
        "unit": {"type": "string", "enum": list(UNITS)},
        "variants": {"type": "array", "items": _ref("Variant")},
        "minimum_detectable_effect": {"type": "number"},
        "primary_metric": {"type": "string", "enum": list(METRICS)},
        "status": {"type": "string", "enum": list(STATUSES)},
        "created_at": {"type": "string"},
        "stopped_at": {"type": "string"},
        "winner": {"type": "string"},
        **more,
    }, ("id", "name", "surface", "unit", "variants", "minimum_detectable_effect",
        "primary_metric", "status", "created_at", *required))


_NUMBER: Schema = {"type": "number"}
_PAIR: Schema = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}


def _results() -> Schema:
    """What ``recs.experiments.results.summarise`` answers."""
    comparison = _optional(_object({
        "control": _NUMBER, "treatment": _NUMBER, "difference": _NUMBER, "interval": _PAIR,
        "relative": _optional(_NUMBER), "relative_interval": _optional(_PAIR),
        "p_value": _NUMBER,
        "always_valid_p_value": {**_NUMBER, "description":
                                 "Valid however often the results are read (mSPRT)"},
    }, ("control", "treatment", "difference", "interval", "relative", "relative_interval",
        "p_value", "always_valid_p_value")))
    metrics = (*RATES, "revenue_per_unit")
    return _object({
        "control": {"type": "string"},
        "primary_metric": {"type": "string", "enum": list(METRICS)},
        "variants": {"type": "object", "description": "By variant name", "additionalProperties":
                     _object({"units": _COUNT, "exposures": _COUNT, "clicks": _COUNT,
                              **{metric: _NUMBER for metric in metrics}},
                             ("units", "exposures", "clicks", *metrics))},
        "comparisons": {"type": "object", "description":
                        "Each variant but the control against it, per metric (null before "
                        "both have units)",
                        "additionalProperties": _object(
                            {metric: comparison for metric in metrics}, metrics)},
        "sample_ratio": _object({"p_value": _NUMBER, "mismatch": {"type": "boolean"}},
                                ("p_value", "mismatch")),
        "units_needed_per_variant": _optional({"type": "integer", "description":
                                               "For the minimum detectable effect at 80 % "
                                               "power; null before the control has data"}),
        "verdict": {"type": "string", "description": "The result in words"},
    }, ("control", "primary_metric", "variants", "comparisons", "sample_ratio",
        "units_needed_per_variant", "verdict"))


_PROMOTION = _object({
    "live_version": {"type": "string"},
    "previous_version": _optional({"type": "string"}),
    "changed": {"type": "boolean", "description": "false: it was live already"},
}, ("live_version", "previous_version", "changed"))
_COUNTS: Schema = _object({name: _NUMBER for name in VariantCounts.__dataclass_fields__},
                          tuple(VariantCounts.__dataclass_fields__))


SCHEMAS: dict[str, Schema] = {
    "Error": _object({
        "message": {"type": "string"},
        "field": {"type": "string", "description": "The first offending field or parameter"},
        "errors": {"type": "array", "description": "Every bad parameter", "items": _object({
            "field": {"type": "string"}, "in": {"type": "string", "enum": ["query", "path"]},
            "reason": {"type": "string"}})},
        "allowed": {"type": "array", "items": {"type": "string"},
                    "description": "405: the methods the path takes (also in Allow)"},
    }, ("message",)),
    # POST /events (recs.intake.validation.validate_event, recs.intake.ingest.parse_body)
    "Event": _object({
        "event_id": {**_ID, "description": "Unique per event: a repeat is counted once"},
        "user_id": _optional({**_ID, "description": "The shopper, when known"}),
        "session_id": _optional({**_ID, "description": "The visit (user_id or session_id)"}),
        "item_id": _ID,
        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
        "timestamp": {**_TIMESTAMP, "description": _TIMESTAMP["description"]
                      + ", from 2000-01-01 to 5 minutes from now"},
        "quantity": _optional({"type": "integer", "minimum": 1, "maximum": 10_000}),
        "price": _optional({"type": "number", "minimum": 0}),
        "recommendation_id": _optional(_text("The list that led to this event, if one did")),
        "category": _optional(_text("The item's category path, e.g. food/rice")),
        "context": _optional({"type": "object", "description":
                              "Anything else, at most 2048 bytes as JSON, nested at most "
                              "32 levels, numbers finite"}),
    }, ("event_id", "item_id", "event_type", "timestamp"), additionalProperties=False,
        description="One behaviour event: user_id or session_id (or both) is required.",
        example={"event_id": "e-1", "user_id": "u-1", "item_id": "rice",
                 "event_type": "purchase", "timestamp": "2026-11-20T12:00:00Z"}),
    "Events": _object({
        "events": {"type": "array", "minItems": 1, "maxItems": 500, "items": _ref("Event")},
    }, ("events",), description=_LIMITS),
    "EventRejection": _object({
        "index": {"type": "integer", "description": "The event's position in the request"},
        "field": {"type": "string"}, "reason": {"type": "string"},
        "event_id": _optional({"type": "string"}),
    }, ("index", "field", "reason", "event_id")),
    "IngestResult": _object({
        "accepted": {**_COUNT, "description": "Valid events, repeats within the request too"},
        "rejected": _COUNT,
        "duplicates": {**_COUNT, "description": "Accepted events whose event_id came twice"},
        "errors": {"type": "array", "items": _ref("EventRejection")},
    }, ("accepted", "rejected", "duplicates", "errors")),
    # PUT /items (recs.intake.catalog.validate_item)
    "Item": _object({
        "item_id": _ID,
        "category": _optional(_text("A path such as food/rice (slashes trimmed)")),
        "title": _optional(_text("Shown as the item's name, and in reasons", 512)),
        "price": _optional({"type": "number", "minimum": 0}),
        "available": _optional({"type": "boolean", "description":
                                "false hides the item from every list at once; absent: "
                                "unchanged (new items are available)"}),
        "created_at": _optional({**_TIMESTAMP, "description": _TIMESTAMP["description"]
                                 + ", from 2000-01-01 to 5 minutes from now; items "
                                 "created in the last 30 days are new arrivals"}),
        "attributes": _optional({"type": "object", "description":
                                 "Anything else, at most 4096 bytes as JSON, nested at most "
                                 "32 levels, numbers finite"}),
    }, ("item_id",), additionalProperties=False,
        description="A catalog upsert: the fields sent change, the others stay.",
        example={"item_id": "rice", "category": "food/rice", "title": "Basmati rice",
                 "price": 3.5, "available": True}),
    "Items": _object({
        "items": {"type": "array", "minItems": 1, "maxItems": 500, "items": _ref("Item")},
    }, ("items",), description=_LIMITS),
    "ItemRejection": _object({
        "index": {"type": "integer", "description": "The item's position in the request"},
        "field": {"type": "string"}, "reason": {"type": "string"},
        "item_id": _optional({"type": "string"}),
    }, ("index", "field", "reason", "item_id")),
    "CatalogResult": _object({
        "accepted": {**_COUNT, "description": "Valid items (a repeated item_id counts once)"},
        "rejected": _COUNT,
        "errors": {"type": "array", "items": _ref("ItemRejection")},
    }, ("accepted", "rejected", "errors")),
    # GET routes (recs.serving.service)
    "RecommendedItem": _object({
        "item_id": {"type": "string"},
        "score": {"type": "number"},
        "reason": {"type": "string", "description": "Why, in words: Because you bought rice"},
        "tier": {"type": "string", "enum": list(_TIERS)},
        "title": _optional({"type": "string"}),
        "category": _optional({"type": "string"}),
        "recommendation_id": {"type": "string", "description":
                              "The list's id and this item's tier, for attribution"},
    }, ("item_id", "score", "reason", "tier", "title", "category", "recommendation_id")),
    "Recommendations": _recommendations(
        "Session, personalised, new arrivals, long tail, then trending items",
        user_id=_optional({"type": "string"}), session_id=_optional({"type": "string"})),
    "Trending": _recommendations("Trending items", category=_optional({"type": "string"})),
    "SimilarItems": _recommendations("The item's neighbours, then trending items",
                                     item_id={"type": "string"}),
    "ModelStatus": _object({
        "live_version": _optional({"type": "string"}),
        "live": _optional({**_model_version(), "description": "The live version's record"}),
        "recent": {"type": "array", "description": "The ten newest versions", "items": _object({
            "version": {"type": "string"},
            "status": {"type": "string", "description": _VERSION_STATUS},
            "created_at": {"type": "string"}, "reason": {"type": "string"},
            "metrics": {"type": "object"}})},
        "error": {"type": "string", "description": "Only when the registry is unavailable"},
    }, ("live_version", "live", "recent")),
    "Promotion": _PROMOTION,
    # The operator console's routes (recs.contracts.ops, recs.api.ops)
    "DayHealth": _object({
        "day": {"type": "string", "description": "yyyy-mm-dd, UTC"},
        "accepted": {**_COUNT, "description": "Events ingest accepted (repeats included)"},
        "rejected": {**_COUNT, "description": "Events ingest refused, each with a reason"},
        "duplicates": {**_COUNT, "description": "Accepted events whose id came twice in "
                                                "a request"},
        "landed": {**_COUNT, "description": "Events the lander wrote to the lake"},
        "quarantined": {**_COUNT, "description": "Messages the lander could not land, filed "
                                                 "under events-rejected/"},
        "rejected_share": _optional({"type": "number", "description":
                                     "rejected / (accepted + rejected); null: none sent"}),
    }, ("day", *HEALTH_COUNTS, "rejected_share")),
    "OpsHealth": _object({
        "days": {"type": "array", "items": _ref("DayHealth"),
                 "description": "Every day asked, oldest first; zeros where nothing counted"},
        "dead_letters": _optional({**_COUNT, "description": (
            "Messages in the dead-letter queue now (recs redrive); null when SQS did not "
            "answer")}),
    }, ("days", "dead_letters")),
    "TierCounts": _object({
        "version": {"type": "string", "description": "A model version, none or other"},
        "tier": {"type": "string", "description": "A tier, none (a list's own id) or other"},
        **{name: _COUNT for name in ATTRIBUTION_COUNTS},
        "ctr": _optional({"type": "number", "description": "clicks / impressions"}),
        "conversion": _optional({"type": "number", "description": "purchases / clicks"}),
    }, ("version", "tier", *ATTRIBUTION_COUNTS, "ctr", "conversion"),
        description="Distinct recommended items (recommendation id and item) per outcome"),
    "OpsAttribution": _object({
        "days": {"type": "object", "description": (
            "Per day the nightly step recounted (the eight days before its run), each "
            "version and tier"),
            "additionalProperties": {"type": "array", "items": _ref("TierCounts")}},
        "totals": {"type": "array", "items": _ref("TierCounts"),
                   "description": "Summed over the days, newest version first"},
    }, ("days", "totals")),
    # The experiment routes (recs.experiments.registry)
    "Variant": _variant(),
    "ExperimentRequest": _object({
        "name": {"type": "string", "minLength": 1,
                 "description": "At most 128 characters (trimmed)"},
        "surface": {"type": "string", "enum": list(SURFACES), "default": "recommendations",
                    "description": "The route it splits; all: every recommendation route"},
        "unit": {"type": "string", "enum": list(UNITS), "default": "user",
                 "description": "What is randomised: user_id or session_id of the requests"},
        "variants": {"type": "array", "minItems": 2, "maxItems": 10,
                     "items": _ref("Variant"),
                     "description": "Names unique; at most one control (default: the first "
                                    "variant is compared against)"},
        "minimum_detectable_effect": {"type": "number", "exclusiveMinimum": True, "minimum": 0,
                                      "maximum": 10, "default": 0.05,
                                      "description": "Relative: 0.05 for +5 %"},
        "primary_metric": {"type": "string", "enum": list(METRICS), "default": "ctr"},
    }, ("name", "variants"), additionalProperties=False,
        description="One running experiment per surface: all overlaps every surface.",
        example={"name": "blend vs trending", "surface": "recommendations",
                 "variants": [{"name": "trending", "control": True},
                              {"name": "blend", "settings": {"new_arrival_share": 0.3}}]}),
    "Experiment": _experiment(),
    "ExperimentList": _object({
        "experiments": {"type": "array", "items": _ref("Experiment"),
                        "description": "Newest first"},
    }, ("experiments",)),
    "ExperimentResults": _results(),
    "ExperimentReport": _experiment(
        ("results", "exact"),
        results=_ref("ExperimentResults"),  # from the live counters
        exact=_optional(_object({
            "as_of": {"type": "string"},
            "results": _ref("ExperimentResults"),
            "days": {"type": "object", "description": "Per day, per variant name",
                     "additionalProperties": {"type": "object",
                                              "additionalProperties": _COUNTS}},
        }, ("as_of", "results", "days"), description=(
            "The nightly recount from the lake, deduplicated; null before the first")))),
    "StopExperiment": _object({
        "winner": _optional({"type": "string", "description": "One of its variants' names"}),
        "roll_out": {"type": "boolean", "default": False, "description":
                     "Make the winner everyone's: its model version goes live at once, its "
                     "settings are listed to deploy; needs a winner"},
    }, additionalProperties=False),
    "StoppedExperiment": _experiment(
        rolled_out=_optional({**_PROMOTION, "description": (
            "Only with roll_out: the winner's model version made live; null when it has "
            "none (it served the live model, or is the control)")}),
        settings_to_apply={"type": "object", "additionalProperties": _NUMBER, "description": (
            "Only with roll_out: the winner's settings by environment variable; they take "
            "effect on the next deploy")},
        roll_out={"type": "string", "description": "Only with roll_out: what was done, "
                                                   "in words"}),
}


# --- responses ---------------------------------------------------------------------------

def _ok(description: str, *schemas: str) -> dict[int, Reply]:
    return {200: Reply(description, schemas)}


_BAD_PARAMS = {400: Reply("A parameter is invalid; the body names every bad one")}
_KEY = {403: Reply("No valid API key in the x-api-key header (API Gateway answers), or the "
                   "storefront key on a route of the server key (field: x-api-key)")}
_SHOPPER = {403: Reply("No valid API key in the x-api-key header (API Gateway answers), or "
                       "the storefront key naming a user_id without a valid shopper_token "
                       "for it (field: shopper_token)")}
_SIGNED = {403: Reply("Not signed (SigV4) by an IAM identity allowed to invoke it")}
_EXPERIMENTS_DOWN = Reply("The experiments table failed after retries")
_BATCH = {
    413: Reply(_LIMITS),
    503: Reply("The queue or a store failed after retries: nothing was acknowledged, "
               "send the request again"),
}


def _batch(result: str, what: str) -> dict[int, Reply]:
    """200, 207 or 400 by how many were rejected, each entry's problem named."""
    return {
        200: Reply(f"Every {what} was accepted", (result,)),
        207: Reply(f"Some {what}s were accepted; errors names the others", (result,)),
        400: Reply(f"The body cannot be read (Error), or no {what} was accepted "
                   f"({result}: errors names each)", ("Error", result)),
        **_KEY, **_BATCH,
    }


ROUTES: tuple[Route, ...] = (
    Route("POST", "/events", INGEST.name, "post_events",
          "Record behaviour events: views, clicks, carts, purchases, ...",
          "Each event is checked on its own: the valid ones are queued for the nightly batch "
          "(and, from the last two days, change the shopper's next recommendations at once), "
          "the others are listed with their index, field and reason.",
          access=Access.STOREFRONT, body="Events",
          responses={**_batch("IngestResult", "event"), **_SHOPPER}),
    Route("PUT", "/items", INGEST.name, "put_items",
          "Add or change catalog items",
          "Titles and categories reach the lists at the next batch; available=false and "
          "new arrivals take effect at once. The unavailable items are bounded (about 1.4 MB "
          "of ids in all): a batch that would pass the bound answers 413 naming `available`, "
          "and nothing of it is recorded.",
          body="Items", responses=_batch("CatalogResult", "item")),
    Route("GET", "/recommendations", API.name, "recommendations",
          "Items for a shopper, personalised when we know them, trending otherwise",
          access=Access.STOREFRONT,
          params=(USER_ID, SESSION_ID, CATEGORY, NUM_ITEMS, EXCLUDE),
          responses={**_ok("The list", "Recommendations"), **_BAD_PARAMS, **_SHOPPER}),
    Route("GET", "/recommendations/trending", API.name, "trending",
          "Trending items, in a category (falling back to its parent, then global) or overall",
          "user_id and session_id place the shopper in an experiment on this surface; "
          "they do not personalise the list.",
          access=Access.STOREFRONT, params=(CATEGORY, NUM_ITEMS, USER_ID, SESSION_ID),
          responses={**_ok("The list", "Trending"), **_BAD_PARAMS, **_SHOPPER}),
    Route("GET", "/items/{item_id}/similar", API.name, "similar",
          "Customers who liked this item also liked these",
          "user_id and session_id place the shopper in an experiment on this surface.",
          access=Access.STOREFRONT, params=(NUM_ITEMS.with_default(8), ITEM_ID, USER_ID,
                                            SESSION_ID),
          responses={**_ok("The list", "SimilarItems"), **_BAD_PARAMS, **_SHOPPER}),
    Route("GET", "/models/status", API.name, "model_status",
          "The live model version, when it was trained, on how much data, and recent versions",
          responses={**_ok("The registry's view", "ModelStatus"), **_KEY}),
    Route("GET", "/swagger", API.name, "swagger", "Swagger UI, or the OpenAPI document",
          access=Access.PUBLIC, params=(FORMAT,), documented=False),
    Route("POST", "/models/{version}/promote", ADMIN.name, "promote",
          "Make a stored model version live (a rollback, or a roll forward)",
          "For operators: IAM-signed requests only, no API key.",
          access=Access.IAM, params=(VERSION,),
          responses={**_ok("The version is live", "Promotion"), **_BAD_PARAMS, **_SIGNED,
                     404: Reply("The version is not in the registry"),
                     409: Reply("The version may not go live: never fully exported, or its "
                                "rows have expired"),
                     503: Reply("The registry or the serving table failed after retries")}),
    Route("GET", "/ops/health", ADMIN.name, "ops_health",
          "Data health per day: events accepted and rejected, landed and quarantined",
          "Counted by ingest (per request) and the lander (per batch) on the UTC day they "
          "answered, best effort; with the dead-letter queue's depth now. For operators: "
          "IAM-signed requests only.",
          access=Access.IAM, params=(DAYS,),
          responses={**_ok("The days, oldest first", "OpsHealth"), **_BAD_PARAMS, **_SIGNED,
                     503: _EXPERIMENTS_DOWN}),
    Route("GET", "/ops/attribution", ADMIN.name, "ops_attribution",
          "CTR and conversion of recommended items by model version and tier, per day",
          "The nightly attribution step's recount from the lake of the eight days before "
          "its run: a day fills in with the run of the night after it. For operators: "
          "IAM-signed requests only.",
          access=Access.IAM, params=(DAYS,),
          responses={**_ok("The days with a recount, and their totals", "OpsAttribution"),
                     **_BAD_PARAMS, **_SIGNED, 503: _EXPERIMENTS_DOWN}),
    Route("POST", "/experiments", ADMIN.name, "create_experiment",
          "Start an A/B experiment on a surface",
          "Shoppers are split between the variants by a hash of their user or session id "
          "from the next refresh of the API's cache (RECS_POINTER_TTL_S). For operators: "
          "IAM-signed requests only.",
          access=Access.IAM, body="ExperimentRequest",
          responses={**_ok("The experiment, running", "Experiment"),
                     400: Reply("The body is not a valid experiment; field names the first "
                                "problem"),
                     **_SIGNED,
                     409: Reply("An experiment is running on an overlapping surface; the "
                                "message names it"),
                     503: _EXPERIMENTS_DOWN}),
    Route("GET", "/experiments", ADMIN.name, "list_experiments",
          "Every experiment, running and stopped, newest first",
          access=Access.IAM,
          responses={**_ok("The experiments", "ExperimentList"), **_SIGNED,
                     503: _EXPERIMENTS_DOWN}),
    Route("GET", "/experiments/{experiment_id}", ADMIN.name, "experiment_report",
          "An experiment and its results: per variant, each comparison, the verdict in words",
          "results reflect events within seconds (live counters); exact is the nightly "
          "recount from the lake. The p-values stay valid however often this is read.",
          access=Access.IAM, params=(EXPERIMENT_ID,),
          responses={**_ok("The experiment and its results", "ExperimentReport"),
                     **_BAD_PARAMS, **_SIGNED,
                     404: Reply("No experiment has this id"), 503: _EXPERIMENTS_DOWN}),
    Route("POST", "/experiments/{experiment_id}/stop", ADMIN.name, "stop_experiment",
          "Stop an experiment, naming a winner and, if asked, rolling it out",
          "Serving stops placing shoppers in it from the next refresh of its cache; the "
          "counts stay readable. With roll_out the winner's model version is made live "
          "first (as POST /models/{version}/promote does), and the experiment is stopped "
          "only once that worked; its settings are answered by environment variable, to "
          "deploy. A control winner rolls out nothing.",
          access=Access.IAM, params=(EXPERIMENT_ID,), body="StopExperiment",
          body_required=False,
          responses={**_ok("The experiment, stopped", "StoppedExperiment"),
                     400: Reply("A bad parameter or body: a winner that is not a variant, "
                                "roll_out without a winner"),
                     **_SIGNED,
                     404: Reply("No experiment has this id, or the winner's model version "
                                "is not in the registry"),
                     409: Reply("The experiment was stopped already, or the winner's model "
                                "version may not go live"),
                     503: Reply("The experiments table, the registry or the serving table "
                                "failed after retries")}),
)
