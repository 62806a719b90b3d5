"""Where `hotline call` went: test calls through the sandbox are a development tool, in bench/
(`python -m bench.call`), which the service's package does not import."""

from __future__ import annotations

from hotline.cli.common import USAGE, fail

#: How a test call is placed now (docs/getting-started.md: Run it).
MOVED = (
    "`hotline call` moved with the development tools: from a checkout set up by "
    "`bash .ci/setup --run`, run .venv/bin/python -m bench.call NUMBER --keys KEYS "
    "(e.g. 0800213103 --keys 12; --help for the rest)"
)


def call() -> None:
    """A test call through the sandbox: now `python -m bench.call NUMBER --keys KEYS`."""
    fail(MOVED, USAGE)


#: Whatever was given to the old command is accepted, so that the pointer is what is said.
SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
