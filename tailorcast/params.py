"""Command-line parameter types shared by ``tailorcast`` and its rooms' commands (results/cli.py)."""

from __future__ import annotations

import click

from . import keys


class RunIdType(click.ParamType):
    """A run id as bucket keys take it (``runs/<run-id>/…``): checked when the command line is read, so a bad one
    is a usage error (exit 2) naming the rule, not a traceback from deep in the run."""

    name = "run id"

    def convert(self, value, param, ctx):
        try:
            keys.run_file(str(value), "manifest.csv")
        except ValueError:
            self.fail(f"{value!r} is not a run id: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                      "or a digit (the name the run printed, e.g. bill-explainer-1a2b3c4d5e6f)", param, ctx)
        return str(value)


RUN_ID = RunIdType()
