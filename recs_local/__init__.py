"""Everything that runs on a developer's machine and never in a Lambda function.

The ``recs`` command (``cli``), the local cloud on moto with the real handlers (``cloud``,
``server``, ``demo``), seeded sample data, offline evaluation against other libraries and
datasets (``evaluation``), and attribution reports. It may import anything in ``recs``;
nothing in ``recs`` imports it (pyproject.toml [tool.importlinter]).
"""
