"""``recs experiments``: the experiment admin routes over HTTP, for an operator at a terminal.

Each command is one request to the running API (``make demo``'s local server by default)
and prints the JSON the route answers, so what a script parses is what the route documents.
Locally the admin routes take the API key, as every route does (``recs_local.server``); the
demo prints it and ``RECS_API_KEY`` chooses it. A deployed stack's admin routes take IAM
signatures instead, which this command does not make.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any

from recs_local.simulation import http_client

DEFAULT_URL = "http://localhost:8000"
API_KEY_ENV = "RECS_API_KEY"


def add_parser(commands: Any) -> None:
    """``recs experiments create|list|report|stop``."""
    experiments = commands.add_parser(
        "experiments", help="create, list, report on and stop A/B experiments on a running "
                            "API (the local demo's by default)")
    actions = experiments.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="start the experiment a JSON file declares")
    create.add_argument("file", type=Path, help="an ExperimentRequest, as in /swagger")
    actions.add_parser("list", help="every experiment, newest first")
    report = actions.add_parser("report", help="an experiment's verdict and per-variant "
                                               "figures, then its whole report")
    report.add_argument("experiment_id")
    stop = actions.add_parser("stop", help="stop an experiment")
    stop.add_argument("experiment_id")
    stop.add_argument("--winner", help="the variant that won")
    stop.add_argument("--roll-out", action="store_true",
                      help="make the winner's model version live; its settings are printed "
                           "for the next deploy (needs --winner)")
    for action in (create, report, stop, actions.choices["list"]):
        action.add_argument("--url", default=DEFAULT_URL,
                            help=f"the API's base URL (default {DEFAULT_URL})")
        action.add_argument("--api-key", default=None,
                            help=f"the API key (default: {API_KEY_ENV}, as the demo uses)")
        action.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """0 when the route answered 200; 1 with its error body on stderr otherwise; 2 when the
    request could not be made (a bad file, no server)."""
    key = args.api_key or os.environ.get(API_KEY_ENV)
    if not key:
        print(f"recs experiments: no API key: pass --api-key or set {API_KEY_ENV} (the demo "
              "prints the key it serves with)", file=sys.stderr)
        return 2
    try:
        method, path, body = _request(args)
    except (OSError, ValueError) as exc:
        print(f"recs experiments: {exc}", file=sys.stderr)
        return 2
    call = http_client(args.url, key)
    try:
        status, answer = call(method, path, body)
    except (urllib.error.URLError, OSError) as exc:
        print(f"recs experiments: {method} {args.url}{path}: {exc} (is `make demo` "
              "running?)", file=sys.stderr)
        return 2
    if status != 200:
        print(f"{method} {path}: {status}\n{json.dumps(answer, indent=2)}", file=sys.stderr)
        return 1
    if args.action == "report":
        from recs_local.demo import describe_results

        print("\n".join(describe_results(answer)) + "\n")
    print(json.dumps(answer, indent=2))
    return 0


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.action == "create":
        try:
            body = json.loads(Path(args.file).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{args.file} is not JSON: {exc}") from exc
        return "POST", "/experiments", body
    if args.action == "list":
        return "GET", "/experiments", None
    experiment = urllib.parse.quote(args.experiment_id, safe="")
    if args.action == "report":
        return "GET", f"/experiments/{experiment}", None
    stop: dict[str, Any] = {}
    if args.winner is not None:
        stop["winner"] = args.winner
    if args.roll_out:
        stop["roll_out"] = True
    return "POST", f"/experiments/{experiment}/stop", stop
