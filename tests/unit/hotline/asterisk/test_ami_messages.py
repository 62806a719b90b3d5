"""The AMI messages the service reads, parsed into typed events; a missing field is named."""

from __future__ import annotations

import pytest

from hotline.asterisk import messages
from hotline.asterisk.ami import spied_channel
from hotline.asterisk.messages import (
    Channel,
    DeviceState,
    Guarded,
    Hangup,
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


def test_a_hangup_names_the_phone_that_hung_up_and_the_instance_it_was_for() -> None:
    hangup = {"Event": "UserEvent", "UserEvent": "HotlineHangup", "Call": "1700000000.4"}
    by_operator = {**hangup, "By": "PJSIP/op3-0000002a", "Fence": "12"}
    assert parse(by_operator) == Hangup("1700000000.4", "op3", 12)
    assert parse({**hangup, "By": "", "Fence": ""}) == Hangup("1700000000.4", "", 0)
    assert parse(hangup) == Hangup("1700000000.4", "", 0)  # (an older dialplan's)
    for fence in ("-1", "1e3", "\u00b2", "12 "):
        with pytest.raises(MalformedMessage, match="HotlineHangup with Fence"):
            parse({**hangup, "Fence": fence})


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
        ({"Event": "UserEvent", "UserEvent": "HotlineHangup", "Fence": "3"}, "Call"),
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
        ("PJSIP/op3.desk-0000002b", "op3"),  # the phone in op3's desk: still op3's
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
        # answered in her desk's phone
        ([on("PJSIP/anna.desk-00000009", "9", "1.1")], "9"),
    ],
)
def test_the_channel_a_supervisor_joins_is_the_operators_own(
    channels: list[Channel], spied: str | None
) -> None:
    found = spied_channel(channels, "anna", "1.1")
    assert (found.uniqueid if found else None) == spied


@pytest.mark.parametrize(
    ("device", "state", "expected"),
    [
        ("PJSIP/op1", "NOT_INUSE", messages.PhoneState("op1", True, False)),
        ("PJSIP/op1", "RINGING", messages.PhoneState("op1", True, True)),
        ("PJSIP/ge2", "UNAVAILABLE", messages.PhoneState("ge2", False, False)),
        ("Queue:line-detention_avail", "NOT_INUSE", None),  # not a phone
    ],
)
def test_a_device_state_is_an_operator_phone_or_nothing(
    device: str, state: str, expected: messages.PhoneState | None
) -> None:
    assert messages.phone_state(messages.DeviceState(device, state)) == expected


@pytest.mark.parametrize(
    ("own", "desk", "expected"),
    [
        (None, None, (False, False)),  # Asterisk knows neither
        ("UNAVAILABLE", "NOT_INUSE", (True, False)),  # the browser alone
        ("NOT_INUSE", "UNAVAILABLE", (True, False)),  # the softphone alone
        ("NOT_INUSE", "RINGING", (True, True)),
        ("INUSE", None, (True, True)),
        ("UNAVAILABLE", "UNAVAILABLE", (False, False)),
    ],
)
def test_an_operators_two_phones_are_one(
    own: str | None, desk: str | None, expected: tuple[bool, bool]
) -> None:
    """Their softphone and their desk's: reachable if either is, busy if either is."""
    found = {
        s.operator: s
        for device, state in (("PJSIP/op1", own), ("PJSIP/op1.desk", desk))
        if state is not None and (s := messages.phone_state(messages.DeviceState(device, state)))
    }
    assert messages.operators_phones(found, "op1") == messages.PhoneState("op1", *expected)


@pytest.mark.parametrize(
    ("target", "name", "organisation"),
    [
        ("PJSIP/op2-0000001b", "op2", None),  # a REFER with Replaces: the colleague's phone
        ("Local/21@hotline-transfer-ukraine-0000001c;1", "21", "ukraine"),  # *2 and a code
        ("Local/21@somewhere-else-0000001c;1", "21", None),
        ("", "", None),  # the target's channel went first: the consulted operator decides
    ],
)
def test_an_attended_transfer_names_its_target_in_the_services_words(
    target: str, name: str, organisation: str | None
) -> None:
    event = messages.AttendedTransfer(True, "1700.1", "PJSIP/op1-0000001a", target, "op2")
    assert messages.transferred(event) == messages.Transferred(
        "1700.1", "op1", name, organisation, "op2"
    )
    failed = messages.AttendedTransfer(False, "1700.1", "PJSIP/op1-0000001a", target, "op2")
    assert messages.transferred(failed) is None


def test_the_callbacks_under_way_are_found_by_their_channel_ids() -> None:
    def leg(uniqueid: str, channel: str) -> messages.Channel:
        return messages.Channel(uniqueid, channel, "hotline-callback", "Dial")

    channels = [
        leg(messages.callback_channel_id("1700.5", 1), "PJSIP/op1-00000001"),
        leg(messages.callback_channel_id("1700.5", 2), "PJSIP/op3-00000004"),
        leg(messages.callback_channel_id("1700.9", 1), "PJSIP/ge1-00000002"),
        leg("callback-broken", "PJSIP/op2-00000003"),
        leg("1700.7", "PJSIP/op2-00000005"),  # a caller's own channel
    ]
    assert messages.callback_legs(channels) == {
        "1700.5": messages.CallbackLeg("1700.5", 2, "op3"),
        "1700.9": messages.CallbackLeg("1700.9", 1, "ge1"),
    }
