"""The app synthesised once for the whole infra suite (a few seconds each time), for the
modules that read its template.

It needs the layers that ``python layers/build_layers.py`` builds (``make layers``); without
them the fixture fails and says so. Asset staging is off (nothing is copied) and a layer
built from an older ``recs`` is accepted here: these tests check the template, ``cdk synth``
checks the layers are current. The tests only read the app (cdk-nag's ``validate_scope``
included), so one synthesis serves them all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.constructs_layers import LayersNotBuiltError
from infra.stack import RecsStack


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, RecsStack]]:
    context = {"aws:cdk:disable-asset-staging": True, "allow_stale_layers": True}
    try:
        app, stack = build_app(context, outdir=str(tmp_path_factory.mktemp("cdk.out")), nag=False)
    except LayersNotBuiltError as exc:
        pytest.fail(f"{exc}\n(`make layers` builds them)", pytrace=False)
    yield app, stack


@pytest.fixture(scope="session")
def template(synthesized: tuple[App, RecsStack]) -> Template:
    return Template.from_stack(synthesized[1])
