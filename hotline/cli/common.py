"""What every command shares: reading the settings and the config with their errors said and
mapped to exit codes, the shared options, and a database opened for one command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from hotline.config.deployment import Deployment
from hotline.config.loading import ConfigError, load
from hotline.config.settings import Settings
from hotline.running import logs

#: The exit code of a usage or config error (a bad option, config or setting).
USAGE = 2

#: A listing's machine-readable form.
JsonOption = Annotated[bool, typer.Option("--json", help="print it as JSON")]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="hotline YAML (default: $HOTLINE_CONFIG or config/hotline.yaml)"
    ),
]


def configured(ctx: typer.Context) -> Deployment | None:
    """The deployment a command line names (its --config, else the settings' one), for
    completing an option's value in a shell; None when it cannot be read (nothing offered)."""
    try:
        given = ctx.params.get("config")
        return load(Path(given) if given else Settings().config)
    except Exception:  # (a shell's Tab is no place for an error: the command will say it)
        return None


def complete_organisations(ctx: typer.Context, incomplete: str) -> list[str]:
    """The config's organisations (shell completion of --organisation)."""
    deployment = configured(ctx)
    return [o for o in deployment.organisations if o.startswith(incomplete)] if deployment else []


def complete_lines(ctx: typer.Context, incomplete: str) -> list[str]:
    """The config's lines (shell completion of --line)."""
    deployment = configured(ctx)
    return [line for line in deployment.lines if line.startswith(incomplete)] if deployment else []


def complete_operators(ctx: typer.Context, incomplete: str) -> list[str]:
    """The config's operators (shell completion of --operator)."""
    deployment = configured(ctx)
    return [o for o in deployment.operators if o.startswith(incomplete)] if deployment else []


def one_of(option: str, given: str | None, valid: Iterable[str]) -> NoReturn:
    """A usage error naming an option's valid values (those of the config)."""
    shown = "(not given)" if given is None else repr(given)
    fail(f"{option} {shown}: one of {', '.join(valid)}", USAGE)


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong and exit: 1, a failure while running (the default); 2, a usage or
    config error (:data:`USAGE`)."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def say(message: str) -> None:
    """Progress and remarks, on stderr: stdout is kept for what a command prints."""
    typer.echo(message, err=True)


def read_settings() -> Settings:
    """The HOTLINE_* settings; a bad one is named (its value too, unless it is a secret)."""
    try:
        return Settings()
    except ValidationError as exc:  # each bad HOTLINE_ variable, by its name
        lines = []
        for error in exc.errors():
            name = "_".join(map(str, error["loc"]))
            secret = any(word in name for word in ("secret", "token", "password", "url"))
            given = "(not shown)" if secret else repr(error.get("input"))
            lines.append(f"  HOTLINE_{name.upper()}={given}: {error['msg']}")
        fail("bad setting in the environment (or .env):\n" + "\n".join(lines), USAGE)
    except Exception as exc:
        fail(f"bad setting in the environment: {exc}", USAGE)


def read_deployment(settings: Settings, config: Path | None) -> Deployment:
    """The config given (else the settings' one), checked."""
    try:
        return load(config or settings.config)
    except ConfigError as exc:
        fail(f"invalid config:\n{exc}", USAGE)


def start_logging(settings: Settings) -> None:
    logs.setup(settings.log_level, settings.log_format, settings.access_log)


def with_store(action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``action(store)`` against the configured database; a clear error if it is away."""
    from hotline.store.db import Store

    settings = read_settings()
    store = Store(settings.database())

    async def run() -> Any:
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"database {store.describe()}: {reason}")


def api_error(exc: Exception) -> str:
    """What the API said was wrong (its error's ``detail``), else the HTTP error itself."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        try:
            return f"{exc.response.status_code}: {exc.response.json()['detail']}"
        except (ValueError, KeyError, TypeError):
            pass
    return str(exc)
