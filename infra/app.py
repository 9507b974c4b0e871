"""CDK entry point: ``npx cdk synth`` runs ``python -m infra.app`` (see cdk.json).

Build the layers first (``python layers/build_layers.py``); the stack refuses missing or stale
ones. cdk-nag's AWS Solutions pack runs as a validation plugin: an unacknowledged finding fails
synthesis, and every acknowledgment in the stack carries its reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Importing infra.app runs infra/__init__.py first, which silences jsii's Node banner.
from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.constructs_layers import REPO_ROOT
from infra.stack import RecsStack

STACK_NAME = "RecsStack"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags, defaults), so tests synthesise what the CLI does."""
    path = REPO_ROOT / "cdk.json"
    context: dict[str, Any] = json.loads(path.read_text()).get("context", {})
    return context


def build_app(
    context: Mapping[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True
) -> tuple[App, RecsStack]:
    """The app with its one stack; ``nag=False`` leaves cdk-nag to the caller (tests)."""
    # Given context wins over cdk.json's; the CLI's own -c values override both.
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    stack = RecsStack(
        app,
        STACK_NAME,
        description="recs: serverless product recommendations (ingest, nightly batch, API)",
    )
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
