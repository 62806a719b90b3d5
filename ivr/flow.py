"""The menu flow as data: menus, their options, and where each hotline number enters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Keys a caller can press on a phone keypad.
KEYS = "0123456789*#"


@dataclass(frozen=True)
class Prompt:
    """A recorded sentence in one language, named as in recordings/prompts/<language>/<name>."""

    language: str
    name: str


@dataclass(frozen=True)
class Action:
    """What happens next: go to a menu, route to a line, connect to a legal aid centre,
    text the caller a centre's address (``sms``: then back to the same menu), repeat, or say
    goodbye.

    ``language`` switches the caller's language first; ``prompt`` is said before moving on.
    Exactly one of ``menu``, ``line``, ``centre``, ``sms``, ``repeat`` and ``hangup`` is the
    target.
    """

    menu: str | None = None
    line: str | None = None
    repeat: bool = False
    hangup: bool = False
    language: str | None = None
    prompt: str | None = None
    centre: str | None = None
    sms: str | None = None

    def __post_init__(self) -> None:
        targets = [self.menu, self.line, self.centre, self.sms]
        if sum(t is not None for t in targets) + self.repeat + self.hangup != 1:
            raise ValueError(
                "an action needs exactly one of: menu, line, centre, sms, repeat, hangup"
            )


@dataclass(frozen=True)
class Menu:
    """One menu: a prompt, the keys it accepts, and what silence or a wrong key lead to.

    A caller who stays silent (or presses a wrong key) is prompted again up to ``retries``
    times; after that ``no_input`` (or ``wrong_key``) is taken.
    """

    name: str
    prompt: str
    options: Mapping[str, Action]
    no_input: Action
    wrong_key: Action
    timeout: float = 5.0
    retries: int = 2
    wrong_key_prompt: str | None = None
    #: Say the prompt in each of these languages in turn (a language menu); empty: the
    #: caller's current language only.
    speak_in: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be above 0 seconds")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        for key in self.options:
            if len(key) != 1 or key not in KEYS:
                raise ValueError(f"option key {key!r} is not a phone key (one of {KEYS})")

    def prompts(self, language: str) -> tuple[Prompt, ...]:
        """The prompts that present this menu to a caller speaking ``language``."""
        return tuple(Prompt(lang, self.prompt) for lang in self.speak_in or (language,))


@dataclass(frozen=True)
class Entry:
    """Where a dialled hotline number starts: its first language and its first action."""

    number: str
    language: str
    action: Action
    #: The line whose Asterisk fallback queue takes the caller when the service cannot.
    fallback_line: str
    greeting: str | None = None


@dataclass(frozen=True)
class Flow:
    """Every menu and every hotline number of a deployment."""

    menus: Mapping[str, Menu]
    entries: Mapping[str, Entry]
    languages: tuple[str, ...] = field(default=())
