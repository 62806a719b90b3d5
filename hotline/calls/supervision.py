"""Supervisors step into operators' calls: the service rings the supervisor's own softphone
and Asterisk's ChanSpy joins it to the call, listening only, whispering to the operator, or
talking to both. Each request is an event on the call."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, Protocol

from agents.state import State
from hotline.calls.switchboard import Switchboard
from routing.events import CallSpied, SpyFailed

log = logging.getLogger(__name__)

Mode = Literal["listen", "whisper", "barge"]

#: ChanSpy's options per mode: q no beep, E leave when the call ends, w whisper, B barge.
OPTIONS: dict[str, str] = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}


class Spy(Protocol):
    async def spy(self, supervisor: str, operator: str, options: str, call: str) -> None: ...


class NotOnCall(Exception):
    """The operator has no call to join now."""


class Supervision:
    def __init__(self, board: Switchboard, effects: Spy) -> None:
        self.board = board
        self.effects = effects
        self._tasks: set[asyncio.Task[None]] = set()

    def join(self, supervisor: str, operator: str, mode: Mode) -> str:
        """Ring ``supervisor`` to join ``operator``'s current call; returns the call's id."""
        state = self.board.operators[operator]
        if state.state is not State.ON_CALL or not state.call:
            raise NotOnCall(f"{operator} is {state.state.value}, not on a call")
        call = state.call
        self.board.emit(call, CallSpied(supervisor, operator, mode))
        task = asyncio.get_running_loop().create_task(self._ring(supervisor, operator, mode, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return call

    async def _ring(self, supervisor: str, operator: str, mode: Mode, call: str) -> None:
        try:
            await self.effects.spy(supervisor, operator, OPTIONS[mode], call)
        except Exception as exc:
            log.warning("%s could not join %s's call (%s): %s", supervisor, operator, mode, exc)
            self.board.emit(call, SpyFailed(supervisor, str(exc)[:200]))
