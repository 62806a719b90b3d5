"""The Asterisk config generated from the hotline config (`asterisk render`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.common import (
    USAGE,
    ConfigOption,
    JsonOption,
    fail,
    read_deployment,
    read_settings,
)
from hotline.cli.deployment import prompts_built

app = typer.Typer(help="Asterisk config generated from the hotline config.", no_args_is_help=True)


@app.command("render")
def asterisk_render(
    target: Annotated[Path, typer.Argument(help="folder to write the generated .conf files")],
    config: ConfigOption = None,
    with_prompts: Annotated[
        bool,
        typer.Option(
            "--prompts",
            help="also the built prompts, in DIR/sounds (for /usr/share/asterisk/sounds/"
            "hotline), and DIR/ready once all is written (what the Asterisk image waits for)",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the generated Asterisk files (endpoints, AMI user, queues, numbers), and for the
    machine around it fail2ban-hotline.conf (for /etc/fail2ban/jail.d/: bans addresses that
    fail to log in) and nftables-hotline.nft (who may use SIP over UDP)."""
    import shutil

    from hotline.asterisk.render import RenderError, render, render_firewall
    from hotline.config.settings import environment

    settings = read_settings()
    deployment = read_deployment(settings, config)
    target.mkdir(parents=True, exist_ok=True)
    (target / "ready").unlink(missing_ok=True)
    try:
        files = render(
            deployment,
            environment(),
            target,
            settings.agi_address(),
            settings.ami_username,
            settings.takeover_seconds(),
        )
        files += render_firewall(deployment, target)
    except RenderError as exc:
        fail(str(exc), USAGE)
    if not as_json:
        for path in files:
            typer.echo(path)
    built = None
    if with_prompts:
        built = prompts_built(settings, deployment, plain=as_json)
        if not as_json:
            typer.echo(f"{built} prompt(s) built into {settings.prompts_build_dir}")
        shutil.rmtree(target / "sounds", ignore_errors=True)
        shutil.copytree(settings.prompts_build_dir, target / "sounds")
        (target / "ready").touch()
        if not as_json:
            typer.echo(target / "sounds")
    if as_json:
        sounds = str(target / "sounds") if with_prompts else None
        written = {"files": [str(path) for path in files], "sounds": sounds, "prompts_built": built}
        typer.echo(json.dumps(written, indent=2))


@app.command("reload")
def asterisk_reload() -> None:
    """Have Asterisk read the generated files again (its endpoints, dialplan and fallback
    queues; calls going on are not touched), as the AMI reload account
    (HOTLINE_AMI_RELOAD_SECRET). After `asterisk render` into Asterisk's folder, or where the
    service's own reload could not do it."""
    import asyncio

    from hotline.asterisk.ami import RELOADS, AmiUnavailable, reload_modules
    from hotline.asterisk.render import RELOAD_USER

    settings = read_settings()
    secret = settings.ami_reload_secret.get_secret_value()
    if not secret:
        fail("HOTLINE_AMI_RELOAD_SECRET is not set (the AMI reload account's secret)", USAGE)
    modules = list(dict.fromkeys(RELOADS.values()))
    try:
        done = asyncio.run(
            reload_modules(settings.ami_host, settings.ami_port, RELOAD_USER, secret, modules)
        )
    except AmiUnavailable as exc:
        fail(f"not reloaded: {exc}")
    typer.echo(f"Asterisk reloaded: {', '.join(done)}")
