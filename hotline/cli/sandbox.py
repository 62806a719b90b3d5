"""The local Asterisk sandbox (hotline/running/sandbox.py): `sandbox up|down|status`, and `up`,
the sandbox and the service together (the README's first command). Building the sandbox and
its prompts shows a bar on a terminal (hotline/cli/meter.py)."""

from __future__ import annotations

import json
import os

import typer

from hotline.cli.common import ConfigOption, JsonOption, fail, read_deployment, read_settings, say
from hotline.cli.meter import meter
from hotline.cli.serve import serve

app = typer.Typer(
    help="The local Asterisk sandbox (Debian's Asterisk 22 in a chroot).", no_args_is_help=True
)

#: What `up` suggests trying once the service starts: a test call (a development tool, bench/).
TRY_A_CALL = ".venv/bin/python -m bench.call 0800213103 --keys 12"


def up(config: ConfigOption = None) -> None:
    """Start the sandbox Asterisk (building it the first time) and run the service; stopping
    it (Ctrl-C) stops that Asterisk too."""
    from hotline.running.sandbox import Sandbox, SandboxError

    settings = read_settings()
    deployment = read_deployment(settings, config)
    sandbox = Sandbox(settings)
    try:
        with meter("sandbox") as shown:
            env = sandbox.up(deployment, shown.say, shown.steps)
    except SandboxError as exc:
        fail(str(exc))
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    say(f"service starting; try in another shell: {TRY_A_CALL}")
    try:
        serve(config)
    finally:  # (Ctrl-C, or the service failing): what `up` started goes with it
        say("stopping the sandbox's Asterisk (`hotline sandbox up` runs it alone)")
        sandbox.down(say)


@app.command("up")
def sandbox_up(config: ConfigOption = None) -> None:
    """Build (once) and (re)start the sandbox Asterisk with this project's config."""
    from hotline.running.sandbox import Sandbox, SandboxError

    settings = read_settings()
    deployment = read_deployment(settings, config)
    try:
        with meter("sandbox") as shown:
            Sandbox(settings).up(deployment, shown.say, shown.steps)
    except SandboxError as exc:
        fail(str(exc))


@app.command("down")
def sandbox_down() -> None:
    """Stop the sandbox Asterisk (its verbose log, with the test calls' numbers, goes too)."""
    from hotline.running.sandbox import Sandbox

    Sandbox(read_settings()).down(say, forget=True)


@app.command("status")
def sandbox_status(as_json: JsonOption = False) -> None:
    """Whether the sandbox is built and running, its channels and registered operators."""
    from hotline.running.sandbox import Sandbox

    sandbox = Sandbox(read_settings())
    if as_json:
        typer.echo(json.dumps(sandbox.facts(), indent=2))
    else:
        typer.echo(sandbox.status())
