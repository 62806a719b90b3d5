"""An operator: a lawyer on a SIP softphone, with skills (lines, languages) and an office."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operator:
    """An operator of the hotline; ``id`` is also the name of their SIP endpoint."""

    id: str
    name: str
    office: str
    lines: tuple[str, ...]
    languages: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError("an operator serves at least one line")
        if not self.languages:
            raise ValueError("an operator speaks at least one language")

    def serves(self, line: str, language: str | None = None) -> bool:
        """Whether this operator may take a call of ``line`` (in ``language``, if given)."""
        return line in self.lines and (language is None or language in self.languages)
