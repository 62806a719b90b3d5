"""The Asterisk config generated from the deployment: what it lets in, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.asterisk.render import RenderError, password_variable, render
from hotline.config import Deployment

SECRETS = {"HOTLINE_AMI_SECRET": "ami-Zq7x-4kLp-9wRt"} | {
    password_variable(phone): f"horse-battery-staple-{phone}"
    for phone in [*(f"op{i}" for i in range(1, 7)), "sup1"]
}


@pytest.fixture
def rendered(deployment: Deployment, tmp_path: Path) -> dict[str, str]:
    render(deployment, SECRETS, tmp_path, "agi://127.0.0.1:4573")
    return {path.name: path.read_text() for path in tmp_path.iterdir()}


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split(";")[0].strip()
        if line.startswith("["):
            current = {}
            found.setdefault(line.strip("[]"), []).append(current)
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            current[key] = value
    return found


def test_every_operator_authenticates_with_their_own_password(rendered: dict[str, str]) -> None:
    pjsip = sections(rendered["pjsip_hotline.conf"])
    for i in range(1, 7):
        (endpoint,) = [s for s in pjsip[f"op{i}"] if s["type"] == "endpoint"]
        assert endpoint["auth"] == f"op{i}-auth" and endpoint["context"] == "operators"
        (auth,) = pjsip[f"op{i}-auth"]
        assert auth["password"] == f"horse-battery-staple-op{i}"


def test_a_supervisors_phone_authenticates_and_dials_nothing(rendered: dict[str, str]) -> None:
    pjsip = sections(rendered["pjsip_hotline.conf"])
    (endpoint,) = [s for s in pjsip["sup1"] if s["type"] == "endpoint"]
    assert endpoint["context"] == "supervisors" and endpoint["auth"] == "sup1-auth"
    assert pjsip["sup1-auth"][0]["password"] == "horse-battery-staple-sup1"


def test_only_the_trunk_needs_no_password_and_it_is_matched_by_address(
    rendered: dict[str, str],
) -> None:
    pjsip = sections(rendered["pjsip_hotline.conf"])
    no_auth = [
        name
        for name, parts in pjsip.items()
        for s in parts
        if s.get("type") == "endpoint" and "auth" not in s
    ]
    assert no_auth == ["trunk"]
    assert "anonymous" not in pjsip
    (identify,) = [s for s in pjsip["trunk"] if s["type"] == "identify"]
    assert identify["match"] == "127.0.0.2/32"


def test_ami_user_is_loopback_only(rendered: dict[str, str]) -> None:
    (user,) = sections(rendered["manager_hotline.conf"])["hotline"]
    assert user["secret"] == "ami-Zq7x-4kLp-9wRt"
    assert user["deny"] == "0.0.0.0/0.0.0.0" and user["permit"] == "127.0.0.1/255.255.255.255"
    assert "system" not in user["read"] + user["write"]  # it cannot stop Asterisk


def test_the_ami_user_gets_only_the_events_it_reads(rendered: dict[str, str]) -> None:
    text = rendered["manager_hotline.conf"]
    filters = [
        line.split("=", 1)[1] for line in text.splitlines() if line.startswith("eventfilter")
    ]
    assert filters == [
        "Event: DeviceStateChange",
        "Event: DeviceStateListComplete",
        "Event: OriginateResponse",
        "Event: CoreShowChannel",
        "Event: CoreShowChannelsComplete",
        "Event: UserEvent",
    ]


def test_fallback_queues_hold_the_operators_of_each_line(rendered: dict[str, str]) -> None:
    text = rendered["queues_hotline.conf"]
    members = {
        name: [
            line.split(",")[0].split("/")[1]
            for line in text.split(f"[{name}]")[1].split("\n\n")[0].splitlines()
            if line.startswith("member")
        ]
        for name in ("line-consultation", "line-detention")
    }
    assert members == {
        "line-consultation": ["op2", "op3", "op4", "op5", "op6"],
        "line-detention": ["op1", "op2", "op3", "op4", "op5", "op6"],
    }


def test_every_number_has_a_fallback_line(rendered: dict[str, str]) -> None:
    text = rendered["extensions_hotline.conf"]
    assert "HOTLINE_AGI=agi://127.0.0.1:4573" in text
    for number, line in [
        ("0800213103", "information"),
        ("0322920055", "consultation"),
        ("2145145", "rehabilitation"),
    ]:
        assert f"exten => {number},1,Set(HOTLINE_LINE={line})" in text


def test_secrets_are_private_files(rendered: dict[str, str], tmp_path: Path) -> None:
    assert (tmp_path / "pjsip_hotline.conf").stat().st_mode & 0o077 == 0
    assert (tmp_path / "manager_hotline.conf").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("missing", "value", "message"),
    [
        ("HOTLINE_SIP_PASSWORD_OP3", "", "HOTLINE_SIP_PASSWORD_OP3 is not set"),
        ("HOTLINE_AMI_SECRET", "", "HOTLINE_AMI_SECRET is not set"),
        ("HOTLINE_SIP_PASSWORD_OP1", "a;b", "cannot carry"),
        ("HOTLINE_SIP_PASSWORD_OP2", "op2-2026", "too weak: 8 characters, at least 12"),
        ("HOTLINE_SIP_PASSWORD_OP4", "Password-Op4-2026", "too weak: it contains a well-known"),
        ("HOTLINE_AMI_SECRET", "abababababababab", "too weak: it repeats too few different"),
    ],
)
def test_a_missing_or_weak_secret_is_named(
    deployment: Deployment, tmp_path: Path, missing: str, value: str, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        render(deployment, SECRETS | {missing: value}, tmp_path, "agi://x")
