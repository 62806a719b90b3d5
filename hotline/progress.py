"""How long work (the sandbox's bootstrap, the prompts' audio, a report) tells how far it has
got, without knowing who shows it: a bar on a terminal, lines in a log (hotline/cli/meter.py)."""

from __future__ import annotations

from collections.abc import Callable

#: A remark, said as a line ("sandbox built: Asterisk 22.5.2").
Say = Callable[[str], None]

#: How far: ``steps(done, total, what)`` after each step; ``total`` None where it is not known
#: beforehand (mmdebstrap's steps). Work given one says its steps through it, not as lines.
Steps = Callable[[int, int | None, str], None]
