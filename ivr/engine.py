"""The menu engine: a pure step function, and a small driver that runs it over a call.

``start`` and ``press`` decide; they never wait, play or read a clock. ``run_menus`` feeds
the caller's keys (or silence) from an abstract :class:`CallIO` into ``press`` until the
caller is routed to a line or the call is finished.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ivr.flow import Action, Entry, Flow, Prompt

#: Marks silence in a caller's key path.
NO_INPUT = "timeout"


@dataclass(frozen=True)
class MenuState:
    """Where a caller is: the menu, their language, the re-prompts used and the keys so far."""

    menu: str | None
    language: str
    tries: int = 0
    #: Each answer as ``menu:key`` (``menu:timeout`` for silence), in order.
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ask:
    """Play ``prompts`` (a key interrupts them), then wait ``timeout`` seconds for one key."""

    prompts: tuple[Prompt, ...]
    timeout: float


@dataclass(frozen=True)
class Route:
    """The caller chose a line; ``prompts`` are said before the line takes over."""

    line: str
    language: str
    path: tuple[str, ...]
    prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class Connect:
    """The caller chose a legal aid centre: ``prompts`` are said, then the centre is called."""

    centre: str
    language: str
    path: tuple[str, ...]
    prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class Text:
    """The caller asked for a centre's address by SMS: the service texts it (or cannot), says
    which, and the caller is back in the menu they pressed it in (:func:`resume`)."""

    centre: str
    language: str
    path: tuple[str, ...]
    prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class Finish:
    """The menus end the call after saying ``prompts``."""

    language: str
    path: tuple[str, ...]
    prompts: tuple[Prompt, ...] = ()


Step = Ask | Route | Connect | Text | Finish


def start(flow: Flow, entry: Entry) -> tuple[MenuState, Step]:
    """The first step of a call that dialled ``entry``'s number."""
    state = MenuState(menu=None, language=entry.language)
    said = (Prompt(entry.language, entry.greeting),) if entry.greeting else ()
    return _take(flow, state, entry.action, said)


def press(flow: Flow, state: MenuState, key: str | None) -> tuple[MenuState, Step]:
    """The next step after the caller pressed ``key`` (``None``: no key before the timeout)."""
    if state.menu is None:
        raise ValueError("the call is not in a menu")
    menu = flow.menus[state.menu]
    state = replace(state, path=(*state.path, f"{menu.name}:{key or NO_INPUT}"))
    if key is not None and key in menu.options:
        return _take(flow, replace(state, tries=0), menu.options[key], ())
    retry = state.tries < menu.retries
    if key is None:
        if retry:
            return replace(state, tries=state.tries + 1), Ask(
                menu.prompts(state.language), menu.timeout
            )
        return _take(flow, replace(state, tries=0), menu.no_input, ())
    sorry = (Prompt(state.language, menu.wrong_key_prompt),) if menu.wrong_key_prompt else ()
    if retry:
        return replace(state, tries=state.tries + 1), Ask(
            sorry + menu.prompts(state.language), menu.timeout
        )
    return _take(flow, replace(state, tries=0), menu.wrong_key, sorry)


def _take(
    flow: Flow, state: MenuState, action: Action, said: tuple[Prompt, ...]
) -> tuple[MenuState, Step]:
    if action.language is not None:
        state = replace(state, language=action.language)
    if action.prompt is not None:
        said = (*said, Prompt(state.language, action.prompt))
    if action.line is not None:
        return state, Route(action.line, state.language, state.path, said)
    if action.centre is not None:
        return state, Connect(action.centre, state.language, state.path, said)
    if action.sms is not None:
        if state.menu is None:
            raise ValueError("'sms' outside a menu: there is no menu to come back to")
        return state, Text(action.sms, state.language, state.path, said)
    if action.hangup:
        return state, Finish(state.language, state.path, said)
    name = action.menu if action.menu is not None else state.menu
    if name is None:
        raise ValueError("'repeat' outside a menu")
    menu = flow.menus[name]
    return replace(state, menu=name), Ask(said + menu.prompts(state.language), menu.timeout)


def resume(flow: Flow, state: MenuState, said: tuple[Prompt, ...]) -> tuple[MenuState, Ask]:
    """Back in the menu after a :class:`Text`: ``said`` (sent, or not), then the menu again."""
    if state.menu is None:
        raise ValueError("the call is not in a menu")
    menu = flow.menus[state.menu]
    return replace(state, tries=0), Ask(said + menu.prompts(state.language), menu.timeout)


class CallIO(Protocol):
    """What the menus need from a call; the AGI adapter implements it over Asterisk."""

    async def ask(self, prompts: Sequence[Prompt], timeout: float) -> str | None:
        """Play ``prompts`` (any key interrupts), then wait up to ``timeout`` s for a key."""
        ...


#: Told of every menu the caller enters and every answer: (menu, key or None, language).
Listener = Callable[[str, str | None, str], None]


#: Texts a centre's address to the caller; returns what they hear of it (sent, or not).
Texter = Callable[[Text], Awaitable[Sequence[Prompt]]]


async def run_menus(
    flow: Flow,
    entry: Entry,
    io: CallIO,
    on_answer: Listener | None = None,
    on_text: Texter | None = None,
) -> Route | Connect | Finish:
    """Run the menus of ``entry`` over ``io`` until the caller is routed, connected or
    finished."""
    state, step = start(flow, entry)
    while isinstance(step, Ask | Text):
        if isinstance(step, Text):
            told = tuple(await on_text(step)) if on_text is not None else ()
            state, step = resume(flow, state, (*step.prompts, *told))
            continue
        key = await io.ask(step.prompts, step.timeout)
        menu = state.menu
        state, step = press(flow, state, key)
        if on_answer is not None and menu is not None:
            on_answer(menu, key, state.language)
    return step
