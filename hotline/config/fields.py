"""What the config's sections are made of (the models of hotline/config/schema.py and the
modules it names, hotline/config/duty.py): the base of every section, the shapes of ids,
numbers and languages, and how a name that is not known is told."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from routing.numbers import known_country

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
Number = Annotated[str, Field(pattern=r"^\+?[0-9]{2,20}$")]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
KeypadCode = Annotated[str, Field(pattern=r"^[0-9]{1,4}$")]


def _country(code: str) -> str:
    if not known_country(code):
        raise ValueError(f"{code!r} is no country with a numbering plan (ISO 3166 alpha-2: UA, GE)")
    return code


#: A country whose numbering plan reads numbers (ISO 3166 alpha-2, as phonenumbers knows it).
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$"), AfterValidator(_country)]


class Section(BaseModel):
    """A part of the config file: a setting it does not know is an error (a misspelt one
    would otherwise be ignored unseen), and nothing changes it once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def unknown(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown line 'consultaton' (did you mean 'consultation'?)``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}"
