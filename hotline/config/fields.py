"""What the config's sections are made of (hotline/config/__init__.py, hotline/config/duty.py): the
shapes of ids, numbers and languages, and how a name that is not known is told."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated

from pydantic import Field

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
Number = Annotated[str, Field(pattern=r"^\+?[0-9]{2,20}$")]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
KeypadCode = Annotated[str, Field(pattern=r"^[0-9]{1,4}$")]


def unknown(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown line 'consultaton' (did you mean 'consultation'?)``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}"
