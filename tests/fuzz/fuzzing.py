"""The fuzzing run behind ``test_openapi_fuzz``: schemathesis against the local stack.

Run in a fresh interpreter with ``PYTHONHASHSEED=0`` (``python -m tests.fuzz.fuzzing REPORT``):
schemathesis builds its strategies partly by iterating sets, so the cases hypothesis draws,
derandomised as they are, depend on the hash seed. With the seed fixed every run sends the
same requests, in the same order, to a stack no other test has touched; it writes what it
sent, what came back and what it found to the JSON file ``REPORT``.

See ``test_openapi_fuzz`` for what is sent and what every answer must be.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from openapi_schema_validator import OAS30Validator
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.meta import CoveragePhaseData
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from recs.contracts import layout
from recs.contracts.routes import API_KEY_HEADER
from recs.intake.validation import validate_event
from tests.local_stack import API_KEY, LocalStack, local_stack
from tests.openapi_checks import resolved

EXAMPLES = 120  # per operation and mode; with the coverage phase about 2,000 requests
# The batch routes: the body's list, and the component schema of one entry.
BATCHES = {"POST /events": ("events", "Event"), "PUT /items": ("items", "Item")}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


@dataclass(frozen=True)
class Finding:
    """One answer that broke the contract, and how to send the request again."""

    operation: str
    source: str  # coverage, positive or negative
    status: int
    problems: tuple[str, ...]  # one line each: the check's title
    detail: str  # the checks' messages, the answer and a curl command


@dataclass
class FuzzRun:
    """What the run sent and what came back."""

    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status)
    findings: list[Finding] = field(default_factory=list)
    accepted_event_ids: set[str] = field(default_factory=set)
    seconds: float = 0.0


def schemathesis_config() -> SchemathesisConfig:
    """The key on every request; 413 and the batches' 207 count as rejecting negative data."""
    return SchemathesisConfig.from_dict({
        "headers": {"x-api-key": API_KEY},
        "auth": {"openapi": {"apiKey": {"api_key": API_KEY}}},
        "generation": {"allow-extra-parameters": False},
        "checks": {"negative_data_rejection": {
            "expected-statuses": [400, 403, 404, 405, 409, 413, 207]}},
    })


def entry_problems(spec: dict[str, Any], label: str, body: Any, answer: Any) -> list[str]:
    """For a batch route: entries outside the entry schema that ``errors`` does not list."""
    key, schema_name = BATCHES[label]
    if not (isinstance(body, dict) and isinstance(body.get(key), list)
            and isinstance(answer, dict) and isinstance(answer.get("errors"), list)
            and "accepted" in answer):  # a batch result: a bad parameter refuses the whole
        return []
    validator = OAS30Validator(resolved(spec, spec["components"]["schemas"][schema_name]))
    listed = {error.get("index") for error in answer["errors"] if isinstance(error, dict)}
    return [f"entry {index} is outside the {schema_name} schema but was accepted: "
            f"{json.dumps(entry)[:300]}"
            for index, entry in enumerate(body[key])
            if index not in listed and not validator.is_valid(entry)]


def accepted_ids(body: Any, answer: Any) -> set[str]:
    """The stored ``event_id`` of every event a ``POST /events`` answer accepted."""
    if not (isinstance(answer, dict) and answer.get("accepted") and isinstance(body, dict)):
        return set()
    refused = {error["index"] for error in answer.get("errors", [])}
    now = int(time.time() * 1000)
    return {validate_event(entry, now)["event_id"]
            for index, entry in enumerate(body["events"]) if index not in refused}


class Fuzzer:
    """Sends each phase's requests to one stack and checks every answer into a ``FuzzRun``."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.run = FuzzRun()
        self.session = requests.Session()
        url = f"{stack.base_url}/swagger?format=json"
        self.spec = self.session.get(url, timeout=30).json()
        self.schema = schemathesis.openapi.from_url(url, config=schemathesis_config())

    def all_operations(self) -> FuzzRun:
        started = time.perf_counter()
        for result in self.schema.get_all_operations():
            self.operation(result.ok())  # type: ignore[union-attr]  # Err raises here
        self.run.seconds = time.perf_counter() - started
        return self.run

    def operation(self, operation: Any) -> None:
        generation = self.schema.config.generation_for(operation=operation)
        for case in self.schema.iter_coverage_cases(
                operation, generation_modes=list(GenerationMode), generation_config=generation):
            self.send(case, "coverage")
        for mode in GenerationMode:
            strategy = operation.as_strategy(generation_mode=mode)
            if mode is GenerationMode.POSITIVE:
                strategy = st.one_of(strategy, *known_cases(operation, self.stack))
            self.draw(strategy, mode.value)

    def draw(self, strategy: Any, source: str) -> None:
        """EXAMPLES cases from ``strategy``: derandomised, no deadline, no shrinking (``send``
        records findings rather than raising). An operation with nothing to break has no
        negative cases (Unsatisfiable): that is not a failure."""

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def each(case: Any) -> None:
            self.send(case, source)

        with contextlib.suppress(Unsatisfiable):
            each()

    def send(self, case: Any, source: str) -> None:
        label = case.operation.label
        response = case.call(base_url=self.stack.base_url, session=self.session, timeout=30,
                             headers=key_header(case))
        self.run.requests[(label, response.status_code)] += 1
        failures: list[Failure] = []
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            failures = list(group.exceptions)
        except Failure as failure:
            failures = [failure]
        failures = [f for f in failures if not signature_only(f)]
        problems = [f"{f.code} {f.title}" for f in failures]
        messages = [f.message for f in failures]
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if label in BATCHES and label.startswith(f"{case.method.upper()} "):
            unlisted = entry_problems(self.spec, label, case.body, answer)
            if unlisted:
                problems.append("invalid entries accepted")
                messages += unlisted
            if label == "POST /events" and response.status_code in (200, 207):
                self.run.accepted_event_ids |= accepted_ids(case.body, answer)
        if problems:
            curl = case.as_curl_command(headers={API_KEY_HEADER: API_KEY})
            detail = "\n".join([*messages, f"answer: {response.text[:400]}", curl[:1500]])
            self.run.findings.append(Finding(label, source, response.status_code,
                                             tuple(problems), detail))


def signature_only(failure: Failure) -> bool:
    """A request to an IAM route accepted without its SigV4 ``Authorization`` header, and
    nothing else wrong with it: the local server takes the API key there instead (as the
    document's description says), so only API Gateway can refuse it."""
    invalid = [line for line in failure.message.splitlines()
               if line.startswith("Invalid component:")]
    return bool(invalid) and all("`Authorization`" in line and "header" in line
                                 for line in invalid)


def key_header(case: Any) -> dict[str, str]:
    """The API key for a coverage case: the configured headers reach only generated cases, and
    the coverage phase sends the key empty. A case about the key goes as it is (403)."""
    data = case.meta.phase.data if case.meta else None
    if not isinstance(data, CoveragePhaseData):
        return {}
    return {} if (data.parameter or "").lower() == API_KEY_HEADER else {API_KEY_HEADER: API_KEY}


def known_cases(operation: Any, stack: LocalStack) -> list[Any]:
    """Requests naming what exists (a shopper with a model list, an item, the live version),
    and events the API should accept: a schema-valid event is mostly refused for its time
    (free text, or an integer far in the future), so these take a recent one and a shopper,
    and carry whatever else was generated (ids, prices, context) to the lander and the batch."""
    if operation.label == "POST /events":
        return [operation.as_strategy().map(recent_events)]
    fixed = {"GET /recommendations": {"query": {"user_id": "C"}},
             "GET /items/{item_id}/similar": {"path_parameters": {"item_id": "rice"}},
             "POST /models/{version}/promote": {"path_parameters": {"version": stack.version}}}
    given_values = fixed.get(operation.label)
    return [operation.as_strategy(**given_values)] if given_values else []


def recent_events(case: Any) -> Any:
    """``case`` with each event's time set to minutes ago and a session for the shopperless."""
    events = case.body.get("events") if isinstance(case.body, dict) else None
    for minutes, entry in enumerate(events if isinstance(events, list) else [], 1):
        if isinstance(entry, dict):
            entry["timestamp"] = int(time.time() * 1000) - minutes * 60_000
            if entry.get("user_id") is None and entry.get("session_id") is None:
                entry["session_id"] = f"fuzz-{minutes}"
    return case


def afterwards(stack: LocalStack, run: FuzzRun) -> dict[str, Any]:
    """What the fuzz left behind, landed and trained on: what an operator would look at."""
    stack.cloud.pump_queue()
    landed = set(stack.landed_event_ids())
    batch = stack.run_batch()
    status, answer = stack.request("GET", "/recommendations?user_id=C&num_items=5")
    first = answer["items"][0] if status == 200 and answer["items"] else {}
    return {
        "accepted_events": len(run.accepted_event_ids),
        "not_landed": sorted(run.accepted_event_ids - landed)[:20],
        "still_queued": stack.queued(stack.cloud.queue_url),
        "dead_letters": stack.dead_letters()[:20],
        "quarantined": stack.keys(layout.EVENTS_REJECTED)[:20],
        "nightly": {key: batch[key] for key in ("status", "error", "cause")},
        "after": {"status": status, "item": first.get("item_id"), "tier": first.get("tier")},
    }


def main(report: Path) -> None:
    with local_stack() as stack:
        run = Fuzzer(stack).all_operations()
        result = {
            "requests": [[label, status, count]
                         for (label, status), count in sorted(run.requests.items())],
            "seconds": run.seconds,
            "findings": [asdict(finding) for finding in run.findings],
            **afterwards(stack, run),
        }
    report.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
