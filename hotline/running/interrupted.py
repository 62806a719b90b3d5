"""Calls that ended while nobody was listening.

When the service is killed, a call under way goes on in Asterisk (a caller talking to an
operator, a waiting caller the dialplan's fallback queue took), but its end never reaches the
call log; when Asterisk restarts, a hangup may not reach the service either. Each time the
service (re)connects to Asterisk it compares the calls its log holds open with the channels
Asterisk has. One whose channel is gone ends: as the switchboard sees it when it still tracks
the call (its operator freed: no ghost "on call"), else as ``interrupted``; no call is left
without an end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from hotline.calls.switchboard import Switchboard
from hotline.events import CallEvent
from routing.events import CallEnded

log = logging.getLogger(__name__)

#: How many of the calls ended by this process to remember (they may not be in the log yet).
REMEMBERED = 10_000


class Interrupted:
    """Closes the log's open calls whose channel Asterisk no longer has."""

    def __init__(
        self,
        open_calls: Callable[[], Awaitable[list[str]]],
        channels: Callable[[], Awaitable[Mapping[str, str]]],
        flush: Callable[[float], Awaitable[bool]],
        switchboard: Switchboard,
    ) -> None:
        self.open_calls = open_calls
        self.channels = channels
        self.flush = flush
        self.switchboard = switchboard
        self._ended: dict[str, None] = {}
        self._soon: asyncio.Task[int] | None = None

    def __call__(self, event: CallEvent) -> None:
        """A bus subscriber: remembers the calls that ended here."""
        if isinstance(event.fact, CallEnded):
            self._ended[event.call_id] = None
            if len(self._ended) > REMEMBERED:
                del self._ended[next(iter(self._ended))]

    def soon(self, delay: float = 5.0) -> None:
        """Look in ``delay`` seconds (once, however often asked meanwhile): after the guard
        found the service hung, the hangups it missed meanwhile."""
        if self._soon is None or self._soon.done():
            self._soon = asyncio.get_running_loop().create_task(self._close_after(delay))

    async def _close_after(self, delay: float) -> int:
        await asyncio.sleep(delay)
        try:
            return await self.close()
        except Exception:
            log.exception("looking for interrupted calls failed")
            return 0

    async def close(self) -> int:
        """Close what ended unseen; how many. Skipped while the log is behind (its database
        away): an end still in the spool must not be overwritten. Only the active instance
        closes calls (a standby's, or a stopping one's, word is not the last)."""
        if not self.switchboard.may_act():
            return 0
        if not await self.flush(10):
            log.warning("call log behind: interrupted calls are looked for at the next connect")
            return 0
        candidates = await self.open_calls()
        if not candidates:
            return 0
        alive = await self.channels()
        gone = [c for c in candidates if c not in alive and c not in self._ended]
        board = self.switchboard
        for call in gone:
            if board.waits(call) or call in board.talks:
                board.hung_up(call)  # its end as the switchboard sees it; the operator is freed
            else:
                board.emit(call, CallEnded("interrupted"))
        if gone:
            log.warning("%d call(s) ended while the service was not listening", len(gone))
        return len(gone)
