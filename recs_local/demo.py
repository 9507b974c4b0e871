"""``recs demo``: ingest sample events, run the nightly batch, serve the API on localhost.

Everything runs in this process on moto, through the same handlers and the same state
machine definition that ``cdk deploy`` ships.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from recs.contracts.access import SHOPPER_SECRET_ENV
from recs.contracts.state import BatchState
from recs_local import sample_data
from recs_local.catalog_files import read_catalog
from recs_local.cloud import LocalCloud, moto_server
from recs_local.server import make_server, proxy_event, serve_in_background
from recs_local.shop_backend import TOKEN_PATH, DemoShopBackend
from recs_local.simulation import Report, http_client, simulate, tastes
from recs_local.storefront import Storefront

INGEST_BATCH = 500
DEMO_TOKEN_TTL_S = 24 * 3600  # the storefront's shopper tokens: a day of browsing

Say = Callable[[str], None]


def _say(message: str) -> None:
    print(message, flush=True)


def ingest_all(cloud: LocalCloud, events: list[dict[str, Any]]) -> tuple[int, int]:
    """POST the events to the ingest handler in API-sized batches; (accepted, rejected)."""
    accepted = rejected = 0
    for start in range(0, len(events), INGEST_BATCH):
        body = json.dumps({"events": events[start:start + INGEST_BATCH]}).encode()
        result = cloud.invoke("ingest", proxy_event("POST", "/events", {}, body))
        answer = json.loads(result["body"])
        accepted += int(answer.get("accepted", 0))
        rejected += int(answer.get("rejected", 0))
    return accepted, rejected


def put_catalog(cloud: LocalCloud, items: list[dict[str, Any]]) -> tuple[int, int]:
    """PUT the items to the ingest handler in API-sized batches; (accepted, rejected)."""
    accepted = rejected = 0
    for start in range(0, len(items), INGEST_BATCH):
        body = json.dumps({"items": items[start:start + INGEST_BATCH]}).encode()
        answer = json.loads(cloud.invoke("ingest", proxy_event("PUT", "/items", {}, body))["body"])
        accepted += int(answer.get("accepted", 0))
        rejected += int(answer.get("rejected", 0))
    return accepted, rejected


def as_of_after(events: list[dict[str, Any]]) -> str:
    """The day after the newest event, so the demo's batch trains on all of them."""
    from recs.intake.validation import parse_timestamp

    newest = max(parse_timestamp(e["timestamp"]) for e in events)
    day = datetime.fromtimestamp(newest / 1000, tz=UTC).date() + timedelta(days=1)
    return day.isoformat()


# The experiment ``make demo`` runs on its simulated shoppers.
DEMO_EXPERIMENT = {
    "name": "demo: personalised against trending",
    "surface": "recommendations", "unit": "user", "primary_metric": "ctr",
    "minimum_detectable_effect": 0.1,
    "variants": [{"name": "trending", "weight": 1, "control": True},
                 {"name": "personalised", "weight": 1}],
}


def run_experiment(cloud: LocalCloud, base_url: str, api_key: str,
                   events: list[dict[str, Any]], items: list[dict[str, Any]],
                   shoppers: int) -> tuple[dict[str, Any], Report]:
    """Run ``DEMO_EXPERIMENT`` on ``shoppers`` simulated shoppers over HTTP, stop it, and
    return its report (what ``GET /experiments/{id}`` answers) and what they did.

    The shoppers are the sample's users, with the tastes of their own history, so the
    personalised arm earns its clicks rather than being given them. Stopped at the end, the
    experiment no longer changes what the API serves; its results stay readable.
    """
    def admin(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        answer = cloud.invoke("admin", proxy_event(method, path, {}, raw))
        result: dict[str, Any] = json.loads(answer["body"])
        if answer["statusCode"] != 200:
            raise SystemExit(f"{method} {path}: {answer['statusCode']} {result}")
        return result

    experiment = admin("POST", "/experiments", DEMO_EXPERIMENT)
    chosen = dict(sorted(tastes(events).items())[:shoppers])
    prices = {str(i["item_id"]): float(i["price"]) for i in items if i.get("price") is not None}
    report = simulate(http_client(base_url, api_key), chosen, prices)
    admin("POST", f"/experiments/{experiment['id']}/stop", {})
    return admin("GET", f"/experiments/{experiment['id']}"), report


def describe_results(report: dict[str, Any]) -> list[str]:
    """The lines ``make demo`` and ``recs experiments report`` print before the JSON."""
    results = report["results"]
    lines = [f"{report['name']} ({report['id']}, {report['status']})",
             f"  verdict: {results['verdict']}"]
    for name, row in results["variants"].items():
        lines.append(f"  {name:>14}: {row['units']:>5} units  CTR {row['ctr']:.1%}  "
                     f"conversion {row['conversion_rate']:.1%}  "
                     f"revenue/unit {row['revenue_per_unit']:.2f}")
    return lines


def run(port: int = 8000, host: str = "127.0.0.1", events_csv: Path | None = None,
        users: int = 400, say: Say = _say, serve: bool = True,
        catalog_file: Path | None = None, simulate_shoppers: int = 0,
        engine: str | None = None) -> dict[str, Any]:
    """``engine`` (``auto``, ``lambda`` or ``spark``) sets ``RECS_ENGINE`` for the run: on
    ``spark`` the state machine runs the Spark job (PySpark in local mode, against moto)
    and exports its row files with the Distributed Map."""
    if engine is None:
        return _run(port, host, events_csv, users, say, serve, catalog_file, simulate_shoppers)
    saved = os.environ.get("RECS_ENGINE")
    os.environ["RECS_ENGINE"] = engine
    try:
        return _run(port, host, events_csv, users, say, serve, catalog_file, simulate_shoppers)
    finally:
        if saved is None:
            os.environ.pop("RECS_ENGINE", None)
        else:
            os.environ["RECS_ENGINE"] = saved


def _run(port: int, host: str, events_csv: Path | None, users: int, say: Say, serve: bool,
         catalog_file: Path | None, simulate_shoppers: int) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    started = time.perf_counter()

    def step(message: str) -> None:
        say(f"[{time.perf_counter() - started:6.1f}s] {message}")

    step("starting moto (the local stand-in for S3, SQS, DynamoDB, Lambda, Step Functions)")
    with moto_server() as cloud:
        if events_csv:
            events = sample_data.read_csv(Path(events_csv))
            step(f"read {len(events)} events from {events_csv}")
        else:
            events = sample_data.generate(users=users)
            step(f"generated {len(events)} sample events for {users} shoppers")
        if not events:
            raise SystemExit("no events to load")
        items = (read_catalog(Path(catalog_file)) if catalog_file
                 else [] if events_csv else sample_data.catalog_items())
        if items:
            ok, bad = put_catalog(cloud, items)
            step(f"PUT /items: {ok} catalog items accepted, {bad} rejected")
        accepted, rejected = ingest_all(cloud, events)
        step(f"POST /events: {accepted} accepted, {rejected} rejected")
        landed = cloud.pump_queue()
        step(f"lander: {landed} queue messages written as Parquet under s3://recs-data/events/")
        as_of = as_of_after(events)
        step(f"running the nightly state machine (as of {as_of}) ...")
        result = cloud.run_batch(as_of)
        if result["status"] != "SUCCEEDED":
            raise SystemExit(f"batch {result['status']}: {result['error']} {result['cause']}")
        output: BatchState = result["output"]
        job = output.get("spark_job", {}).get("job_run_id")
        step(f"batch SUCCEEDED on the {output.get('engine', 'lambda')} engine"
             + (f" (Spark job run {job}, {output['counts'].get('row_files')} row files "
                "exported by the Distributed Map)" if job else "")
             + f": model {output['version']} promoted={output.get('promoted')} "
             f"counts={json.dumps(output['counts'])}")

        api_key = os.environ.get("RECS_API_KEY") or secrets.token_urlsafe(18)
        # The storefront's key is public (its config.json): it reads a shopper's lists only
        # with the token this server issues as the shop's backend would (/demo/token).
        storefront_key = os.environ.get("RECS_STOREFRONT_KEY") or secrets.token_urlsafe(18)
        if storefront_key == api_key:
            raise SystemExit("RECS_STOREFRONT_KEY must differ from RECS_API_KEY")
        token_secret = os.environ[SHOPPER_SECRET_ENV]  # the local cloud's (recs_local.cloud)
        storefront = replace(Storefront.for_demo(storefront_key, events, items),
                             token_url=TOKEN_PATH)
        server = make_server(host, port, cloud.invoke, api_key=api_key, storefront=storefront,
                             storefront_key=storefront_key,
                             shop_backend=DemoShopBackend(token_secret, DEMO_TOKEN_TTL_S))
        serve_in_background(server)
        stop = threading.Event()
        pump = threading.Thread(target=_keep_landing, args=(cloud, stop), daemon=True)
        pump.start()
        base = f"http://{host}:{server.server_address[1]}"
        experiment_id = None
        if simulate_shoppers:
            step(f"experiment: {simulate_shoppers} simulated shoppers, personalised against "
                 "trending ...")
            results, did = run_experiment(cloud, base, api_key, events, items,
                                          simulate_shoppers)
            experiment_id = results["id"]
            step(f"simulated shoppers: {did.lists} lists, "
                 + ", ".join(f"{n} {kind}s" for kind, n in sorted(did.events.items())))
            for line in describe_results(results):
                say(line)
        user = next((e["user_id"] for e in events if e.get("user_id")), "user-0001")
        item = events[-1]["item_id"]
        step(f"serving on {base}  (Swagger UI: {base}/swagger)")
        say(f"Storefront: {base}/  (as a shopper: {base}/?user_id={user})")
        say(f"Operator console: {base}/ops#key={api_key}  (the link signs in with the key)")
        key = f"-H 'x-api-key: {api_key}'"
        say(f"\nAPI key (set RECS_API_KEY to choose it): {api_key}\nTry:\n"
            f"  curl {key} '{base}/recommendations?user_id={user}&num_items=5'\n"
            f"  curl {key} '{base}/recommendations?session_id=new-visitor'\n"
            f"  curl {key} '{base}/items/{item}/similar?num_items=5'\n"
            f"  curl {key} '{base}/recommendations/trending?num_items=5'\n"
            f"  curl {key} '{base}/models/status'\n"
            + (f"  .venv/bin/recs experiments report {experiment_id} --url {base}\n"
               if experiment_id else "") +
            f"  curl {key} -X POST '{base}/events' -H 'content-type: application/json' "
            "-d '{\"events\": [{\"event_id\": \"e-1\", \"user_id\": \"u-1\", "
            f"\"item_id\": \"{item}\", \"event_type\": \"view\", "
            "\"timestamp\": \"" + datetime.now(UTC).isoformat(timespec="seconds") + "\"}]}'\n"
            f"Storefront key (public, set RECS_STOREFRONT_KEY to choose it): {storefront_key}\n"
            "  it reads a user_id's list only with that shopper's token, which the shop's "
            f"backend signs\n  (here: curl '{base}{TOKEN_PATH}?user_id={user}', or "
            f"{SHOPPER_SECRET_ENV}={token_secret} .venv/bin/recs shopper-token {user})\n"
            "Press Ctrl-C to stop.", )
        summary = {"base_url": base, "version": output["version"], "counts": output["counts"],
                   "engine": output.get("engine"),
                   "api_key": api_key, "storefront_key": storefront_key,
                   "shopper_token_secret": token_secret, "experiment": experiment_id}
        if not serve:
            stop.set()
            server.shutdown()
            return summary
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            say("stopping")
        finally:
            stop.set()
            server.shutdown()
        return summary


def _keep_landing(cloud: LocalCloud, stop: threading.Event) -> None:
    """Deliver events posted while serving to the lander, as the SQS trigger would."""
    while not stop.wait(1.0):
        try:
            cloud.pump_queue()
        except Exception as exc:  # keep serving; the message stays queued for the next try
            logging.getLogger(__name__).warning("lander failed: %s", exc)
