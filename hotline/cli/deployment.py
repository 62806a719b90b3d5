"""A deployment's files: its config checked (`check`), a new .env of secrets for it (`env`),
its prompts built (`prompts`)."""

from __future__ import annotations

import asyncio
import json

import typer

from hotline.calls import prompts
from hotline.cli.common import (
    USAGE,
    ConfigOption,
    JsonOption,
    fail,
    read_deployment,
    read_settings,
)
from hotline.cli.meter import meter
from hotline.config.deployment import Deployment
from hotline.config.settings import Clock, Settings


def check(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate a config (and that every prompt exists in every language) without starting;
    then name, as warnings (exit 0), every gap in the duty rotas in the next 14 days."""
    settings = read_settings()
    deployment = read_deployment(settings, config)
    names = deployment.prompt_names() | prompts.SERVICE_PROMPTS
    missing = prompts.missing(
        settings.prompts_dir, deployment.languages, names, deployment.prompt_texts
    )
    if missing:
        fail(
            f"{config or settings.config}: prompts missing in {settings.prompts_dir}: "
            + ", ".join(missing),
            USAGE,
        )
    counts = {
        "organisations": len(deployment.organisations),
        "numbers": len(deployment.flow.entries),
        "menus": len(deployment.flow.menus),
        "lines": len(deployment.lines),
        "offices": len(deployment.offices),
        "operators": len(deployment.operators),
        "prompts": len(names),
        "languages": len(deployment.languages),
    }
    warnings = duty_warnings(settings, deployment)
    if as_json:
        found = {"config": str(config or settings.config), "ok": True, **counts}
        typer.echo(json.dumps(found | {"warnings": warnings}, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"{config or settings.config}: OK - {counts['organisations']} organisation(s), "
        f"{counts['numbers']} numbers, {counts['menus']} menus, {counts['lines']} lines, "
        f"{counts['offices']} offices, {counts['operators']} operators, "
        f"{counts['prompts']} prompts x {counts['languages']} languages"
    )
    for warning in warnings:
        typer.secho(f"{config or settings.config}: warning: {warning}", err=True, fg="yellow")


def duty_warnings(settings: Settings, deployment: Deployment) -> list[str]:
    """Every gap in the rotas in the next 14 days, and calendars that cannot be used (a URL
    is tried once, for 5 s: the service keeps trying)."""
    import httpx

    from hotline.reports.duty import HORIZON, Duty

    duty = Duty(deployment, Clock(settings.clock_start))

    async def fetch() -> None:
        async with httpx.AsyncClient(follow_redirects=True, max_redirects=5) as client:
            await duty.refresh(client, timeout=5.0)

    if any(source.url for source in duty.sources):
        asyncio.run(fetch())
    now = duty.clock()
    gaps = [gap.says() for gap in duty.gaps(now, now + HORIZON)]
    return gaps + duty.warnings(now, now + HORIZON)


def env_file(config: ConfigOption = None) -> None:
    """Print a new .env for this config, every secret random: HOTLINE_AMI_SECRET,
    HOTLINE_AGI_SECRET, HOTLINE_API_TOKEN, HOTLINE_RECORDINGS_KEY, each phone's
    HOTLINE_SIP_PASSWORD_<ID>,
    HOTLINE_WEBHOOK_SECRET_<ORGANISATION> of each organisation that sends webhooks, and
    POSTGRES_PASSWORD for compose.yaml (the carrier's HOTLINE_TRUNK_USERNAME and _PASSWORD,
    where it wants them, are the carrier's to give)."""
    import secrets

    from hotline.asterisk.render import secret_names
    from hotline.outbound.signing import new_secret
    from hotline.vault import new_key

    settings = read_settings()
    deployment = read_deployment(settings, config)
    for name in [*secret_names(deployment), "POSTGRES_PASSWORD"]:
        typer.echo(f"{name}={secrets.token_urlsafe(18)}")
    typer.echo(f"HOTLINE_RECORDINGS_KEY={new_key()}")
    for org in deployment.organisations.values():  # (give each its receivers to check with)
        if org.webhooks:
            typer.echo(f"{settings.webhook_secret_name(org.id)}={new_secret()}")


def build_prompts(config: ConfigOption = None) -> None:
    """Build the prompt audio (espeak-ng or studio WAV -> 8 kHz WAV) that is out of date."""
    settings = read_settings()
    count = prompts_built(settings, read_deployment(settings, config))
    typer.echo(f"{count} prompt(s) built into {settings.prompts_build_dir}")


def prompts_built(settings: Settings, deployment: Deployment, *, plain: bool = False) -> int:
    """Build the prompts that are out of date (a bar on a terminal unless ``plain``): how
    many; exit 1 naming the one that could not be built."""
    try:
        with meter("prompts", plain=plain) as shown:
            return prompts.build(
                settings.prompts_dir,
                settings.prompts_build_dir,
                deployment.languages,
                deployment.prompt_names() | prompts.SERVICE_PROMPTS,
                shown.say,
                deployment.prompt_texts,
                shown.steps,
            )
    except prompts.PromptError as exc:
        fail(str(exc))
