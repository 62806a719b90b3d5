"""Long work shown as it goes: on a terminal, a bar (rich's, which typer brings and uses for
its own help and errors) with the step and the time so far, remarks printed above it; where
standard error is no terminal (a log, CI, a pipe) or a command prints JSON, the plain lines of
old and no bar."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from hotline.progress import Say, Steps


@dataclass(frozen=True)
class Meter:
    """What long work is given: ``say`` for its remarks, ``steps`` for how far it has got
    (None: no bar, the work says its steps as lines, as it does for a log)."""

    say: Say
    steps: Steps | None


@contextmanager
def meter(what: str, *, plain: bool = False, stream: TextIO | None = None) -> Iterator[Meter]:
    """A bar named ``what`` on ``stream`` (standard error) while the block runs, gone once it
    is done (transient: what stays is the remarks); plain lines if ``plain`` (--json) or if
    ``stream`` is no terminal."""
    out = stream if stream is not None else sys.stderr

    def line(text: str) -> None:
        print(text, file=out, flush=True)

    if plain or not out.isatty():
        yield Meter(line, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(file=out)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=None)

        def steps(done: int, total: int | None, current: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{what}: {current}")

        def said(text: str) -> None:  # (above the bar, as it is: no markup read into it)
            console.print(text, markup=False, highlight=False, soft_wrap=True)

        yield Meter(said, steps)
