"""The switchboard's hands in Asterisk (:class:`AmiEffects`) over a plain double of the AMI
client: a caller is rung for their line's organisation's ring timeout. (Over the real
Asterisk: tests/integration/test_queue_rules.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from hotline.asterisk.ami import AmiEffects
from hotline.calls.switchboard import ChannelGone


class Reply(dict[str, Any]):
    @property
    def success(self) -> bool:
        return self.get("Response") == "Success"


class Ami:
    """Records every action; answers each with ``replies`` (by action), else Success."""

    def __init__(self, **replies: Reply) -> None:
        self.sent: list[dict[str, Any]] = []
        self.replies = replies
        self.fenced = False

    def fence(self) -> int:
        return 0

    async def action(self, fields: dict[str, Any], timeout: float | None = None) -> Reply:
        self.sent.append(fields)
        return self.replies.get(fields["Action"], Reply(Response="Success"))


@pytest.mark.parametrize(
    ("seconds", "transferred", "context"),
    [(8, False, "hotline-connect"), (25, True, "hotline-transferred"), (14.6, False, None)],
)
async def test_a_caller_is_rung_for_the_ring_timeout_it_is_given(
    seconds: float, transferred: bool, context: str | None
) -> None:
    ami = Ami()
    await AmiEffects(ami).connect("PJSIP/trunk-1", "ge1", seconds, transferred)  # type: ignore[arg-type]
    # one action: the ring's length rides in the extension [hotline-connect] dials from
    (redirect,) = ami.sent
    assert (redirect["Action"], redirect["Channel"], redirect["Exten"]) == (
        "Redirect",
        "PJSIP/trunk-1",
        f"ge1.{round(seconds)}",
    )
    assert redirect["Context"] == (context or "hotline-connect")


async def test_a_caller_gone_before_the_ring_is_told_apart() -> None:
    ami = Ami(Redirect=Reply(Response="Error", Message="Channel specified does not exist"))
    with pytest.raises(ChannelGone):
        await AmiEffects(ami).connect("PJSIP/trunk-1", "ge1", 8)  # type: ignore[arg-type]
    assert [a["Action"] for a in ami.sent] == ["Redirect"]


async def test_an_operator_rung_for_a_callback_rings_for_the_ring_timeout() -> None:
    ami = Ami()
    await AmiEffects(ami).callback("c1", "ge1", "995555123401", 1, 8)  # type: ignore[arg-type]
    (originate,) = ami.sent
    assert (originate["Action"], originate["Channel"], originate["Timeout"]) == (
        "Originate",
        "PJSIP/ge1",
        "8000",
    )


@pytest.mark.parametrize(
    ("own", "rung"),
    [("NOT_INUSE", "PJSIP/ge1"), ("UNAVAILABLE", "PJSIP/ge1.desk"), (None, "PJSIP/ge1")],
)
async def test_an_operator_whose_desk_holds_a_phone_is_rung_there_too(
    own: str | None, rung: str
) -> None:
    """A caller rings both phones (the dialplan dials the two); a callback, one channel an
    Originate, rings their own phone while it is registered (or Asterisk cannot say), else
    the desk's."""
    state = Reply(Response="Success", Value=own) if own else Reply(Response="Error")
    ami = Ami(Getvar=state)
    effects = AmiEffects(ami, desk=lambda operator: operator == "ge1")  # type: ignore[arg-type]
    await effects.connect("PJSIP/trunk-1", "ge1", 8)
    await effects.connect("PJSIP/trunk-2", "ge2", 8)
    await effects.callback("c1", "ge1", "995555123401", 1, 8)
    assert [a.get("Exten") for a in ami.sent[:2]] == ["ge1.8.desk", "ge2.8"]
    assert ami.sent[2] == {"Action": "Getvar", "Variable": "DEVICE_STATE(PJSIP/ge1)"}
    assert ami.sent[3]["Channel"] == rung
