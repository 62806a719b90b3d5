"""The Asterisk door's port: what the switchboard asks of Asterisk, and how it can fail.

The switchboard holds an :class:`Effects` and decides nothing about AMI; the production
adapter is :class:`hotline.asterisk.ami.AmiEffects` (its answers come back as signals), a
test's is a plain class. Like httpx's ``_transports/base.py``: the interface and its errors
apart from the client that uses them.
"""

from __future__ import annotations

from typing import Protocol


class Uncertain(Exception):
    """Asterisk got the action and gave no answer: it may or may not have carried it out.
    Never repeated blindly (a second Redirect would tear a caller out of their ring)."""


class ChannelGone(Exception):
    """The caller's channel no longer exists in Asterisk."""


class NoAnswer(Exception):
    """The operator's phone was rung for a callback and not picked up."""


class Effects(Protocol):
    """What the switchboard asks of Asterisk."""

    async def connect(
        self, channel: str, operator: str, ring_timeout: float, transferred: bool = False
    ) -> None:
        """Take the waiting caller on ``channel`` to ring ``operator`` for ``ring_timeout``
        seconds (``transferred``: telling them first that they are being connected)."""
        ...

    async def move(self, channel: str, number: str = "") -> None:
        """Take a transferred caller from their operator: to wait in their new line's queue,
        or (``number``) to a centre dialled through the trunk."""
        ...

    async def callback(
        self, call: str, operator: str, number: str, attempt: int, ring_timeout: float
    ) -> None:
        """Ring ``operator`` for ``ring_timeout`` seconds; once they answer, Asterisk calls
        ``number`` back (NoAnswer if the operator does not pick up)."""
        ...

    async def take_message(self, channel: str) -> None:
        """Take the waiting caller on ``channel`` to leave a recorded message."""
        ...
