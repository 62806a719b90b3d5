"""The AMI messages the service reads, parsed into typed events; a missing field is named."""

from __future__ import annotations

import pytest

from hotline.asterisk.ami import spied_channel
from hotline.asterisk.messages import (
    Channel,
    DeviceState,
    Guarded,
    MalformedMessage,
    endpoint,
    of_kind,
    parse,
)


def test_the_messages_the_service_reads() -> None:
    assert parse({"Event": "DeviceStateChange", "Device": "PJSIP/op1", "State": "INUSE"}) == (
        DeviceState("PJSIP/op1", "INUSE")
    )
    guarded = {
        "Event": "UserEvent",
        "UserEvent": "HotlineGuarded",
        "Call": "1700000000.4",
        "CallerIDNum": "<380501234567>",
        "Number": "0800213103",
        "Channel": "PJSIP/trunk-00000004",
    }
    assert parse(guarded) == Guarded(
        "1700000000.4", "380501234567", "0800213103", "PJSIP/trunk-00000004", ""
    )
    assert parse({**guarded, "CallerIDNum": ""}) == Guarded(
        "1700000000.4", "unknown", "0800213103", "PJSIP/trunk-00000004", ""
    )


def test_messages_the_service_has_no_use_for_are_none() -> None:
    assert parse({"Event": "Newchannel", "Channel": "PJSIP/trunk-1"}) is None
    assert parse({"Event": "UserEvent", "UserEvent": "Other"}) is None
    assert parse({"Response": "Success"}) is None


@pytest.mark.parametrize(
    ("message", "missing"),
    [
        ({"Event": "DeviceStateChange", "State": "INUSE"}, "Device"),
        ({"Event": "DeviceStateChange", "Device": "PJSIP/op1"}, "State"),
        ({"Event": "UserEvent", "UserEvent": "HotlineGuarded"}, "Call"),
        ({"Event": "CoreShowChannel", "Channel": "PJSIP/trunk-1"}, "Uniqueid"),
    ],
)
def test_a_missing_field_is_named(message: dict[str, str], missing: str) -> None:
    with pytest.raises(MalformedMessage, match=f"without {missing}"):
        parse(message)


def test_a_list_reply_read_for_one_kind() -> None:
    replies = [
        {"Response": "Success", "EventList": "start"},
        {
            "Event": "CoreShowChannel",
            "Uniqueid": "1.1",
            "Channel": "PJSIP/trunk-1",
            "Context": "hotline-wait",
            "Application": "AGI",
        },
        {"Event": "DeviceStateChange", "Device": "PJSIP/op1", "State": "NOT_INUSE"},
        {"Event": "CoreShowChannelsComplete"},
    ]
    assert of_kind(Channel, replies) == [Channel("1.1", "PJSIP/trunk-1", "hotline-wait", "AGI")]


@pytest.mark.parametrize(
    ("channel", "found"),
    [
        ("PJSIP/op3-0000002a", "op3"),
        ("PJSIP/trunk-00000000", "trunk"),
        ("PJSIP/ge-1-00000004", "ge-1"),
        ("dialplan/builtin", ""),
        ("Local/op3@hotline-transfer-0000001;1", ""),
        ("", ""),
    ],
)
def test_the_sip_endpoint_of_a_channel(channel: str, found: str) -> None:
    assert endpoint(channel) == found


def on(channel: str, uniqueid: str, linkedid: str, bridged: bool = True) -> Channel:
    return Channel(uniqueid, channel, "", "", bridged=bridged, linkedid=linkedid)


@pytest.mark.parametrize(
    ("channels", "spied"),
    [
        # anna-m's channel begins as anna's name: never hers
        ([on("PJSIP/anna-m-00000002", "2", "1.0"), on("PJSIP/anna-00000003", "3", "1.1")], "3"),
        ([on("PJSIP/anna-m-00000002", "2", "1.1")], None),
        # on hold with the caller while consulting a colleague: the caller's leg
        ([on("PJSIP/anna-00000005", "5", "5"), on("PJSIP/anna-00000003", "3", "1.1")], "3"),
        # a callback: the operator's leg leads its call, whatever the call's id
        ([on("PJSIP/anna-00000007", "7", "7")], "7"),
        # ringing, not talking
        ([on("PJSIP/anna-00000008", "8", "1.1", bridged=False)], None),
    ],
)
def test_the_channel_a_supervisor_joins_is_the_operators_own(
    channels: list[Channel], spied: str | None
) -> None:
    found = spied_channel(channels, "anna", "1.1")
    assert (found.uniqueid if found else None) == spied
