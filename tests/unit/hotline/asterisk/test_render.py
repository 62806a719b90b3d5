"""The Asterisk config generated from the deployment: what it lets in, and what it refuses."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from hotline.asterisk.dialplan import desk_phone
from hotline.asterisk.render import (
    RenderError,
    fail2ban_jail,
    nftables,
    password_variable,
    render,
    render_firewall,
)
from hotline.config.deployment import Deployment
from hotline.config.loading import parse
from tests.unit.hotline.config.test_config import broken

SECRETS = {
    "HOTLINE_AMI_SECRET": "ami-Zq7x-4kLp-9wRt",
    "HOTLINE_AGI_SECRET": "agi-Vx3q_8nMw-2Lp",
} | {
    password_variable(phone): f"horse-battery-staple-{phone}"
    for phone in [
        *(f"op{i}" for i in range(1, 7)),
        *(f"ge{i}" for i in range(1, 5)),
        "gr1",
        "gr2",
        "sup1",
        "sup2",
        "sup3",
    ]
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
        assert endpoint["auth"] == f"op{i}-auth"
        # their organisation's context, and its transfer targets
        assert endpoint["context"] == "operators-ua-legal-aid"
        assert endpoint["set_var"] == "TRANSFER_CONTEXT=hotline-transfer-ua-legal-aid"
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


def test_the_reload_account_is_apart_and_only_where_its_secret_is_set(
    deployment: Deployment, tmp_path: Path
) -> None:
    render(deployment, SECRETS, tmp_path, "agi://127.0.0.1:4573")
    assert "hotline-reload" not in sections((tmp_path / "manager_hotline.conf").read_text())
    with_reload = SECRETS | {"HOTLINE_AMI_RELOAD_SECRET": "reload-Hq4w-8zPn-2Kx"}
    render(deployment, with_reload, tmp_path, "agi://127.0.0.1:4573")
    found = sections((tmp_path / "manager_hotline.conf").read_text())
    (reloads,) = found["hotline-reload"]
    assert reloads["secret"] == "reload-Hq4w-8zPn-2Kx" and reloads["write"] == "config"
    assert reloads["permit"] == "127.0.0.1/255.255.255.255" and "read" not in reloads
    (service,) = found["hotline"]
    assert "config" not in service["write"]  # the service's own account cannot reload


def test_the_ami_user_gets_only_the_events_it_reads(rendered: dict[str, str]) -> None:
    text = rendered["manager_hotline.conf"]
    filters = [line for line in text.splitlines() if line.startswith("eventfilter")]
    # by name (a hash compared), never a regular expression run over every event
    assert filters == [
        f"eventfilter(action(include),name({name}))="
        for name in (
            "DeviceStateChange",
            "DeviceStateListComplete",
            "OriginateResponse",
            "AttendedTransfer",
            "CoreShowChannel",
            "CoreShowChannelsComplete",
            "UserEvent",
        )
    ]


def test_an_operator_transfers_to_their_organisations_targets_only(
    rendered: dict[str, str],
) -> None:
    """Each organisation's transfer context names its lines, operators and centres (by id
    and keypad code); nothing of another's; the carrier and supervisors transfer nothing."""
    text = rendered["extensions_hotline.conf"]
    ukraine = text.split("[hotline-transfer-ua-legal-aid]")[1].split("\n\n")[0].splitlines()
    targets = {line.split(",")[0].removeprefix("exten => ") for line in ukraine}
    assert {"consultation", "detention", "op1", "op6", "kyiv", "1", "2", "96", "53"} <= targets
    assert not targets & {"ge-consultation", "ge1", "tbilisi-bureau"}
    assert "exten => 96,1,Goto(hotline-transfer,op6,1)" in ukraine
    colleagues = text.split("[operators-ua-legal-aid]")[1].split("\n\n")[0]
    assert "include => operators" in colleagues
    assert "Dial(PJSIP/op6&PJSIP/op6.desk,30)" in colleagues  # (their desk's phone too)
    assert "PJSIP/ge1" not in colleagues
    pjsip = sections(rendered["pjsip_hotline.conf"])
    (trunk,) = [s for s in pjsip["trunk"] if s["type"] == "endpoint"]
    (sup,) = [s for s in pjsip["sup1"] if s["type"] == "endpoint"]
    assert trunk["allow_transfer"] == "no" and sup["allow_transfer"] == "no"


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


def test_a_fallback_queue_rings_and_wraps_up_by_its_lines_organisations_rules(
    tmp_path: Path,
) -> None:
    """Georgia's call centre rings 8 s and wraps up 30 s; the others keep the shared rules,
    which are also the dialplan's defaults for a channel the service set none on."""
    raw = broken(
        lambda c: c["organisations"]["ge-legal-aid"].update(
            queues={"ring_timeout": 8, "wrap_up": 30}
        )
    )
    render(parse(raw), SECRETS, tmp_path, "agi://127.0.0.1:4573")
    queues = sections((tmp_path / "queues_hotline.conf").read_text())
    rules = {
        line: (queues[f"line-{line}"][0]["timeout"], queues[f"line-{line}"][0]["wrapuptime"])
        for line in ("ge-consultation", "consultation", "ge-rehabilitation")
    }
    assert rules == {
        "ge-consultation": ("8", "30"),
        "consultation": ("15", "10"),
        "ge-rehabilitation": ("15", "10"),
    }
    globals_ = sections((tmp_path / "extensions_hotline.conf").read_text())["globals"][0]
    assert (globals_["HOTLINE_RING_TIMEOUT"], globals_["HOTLINE_ANNOUNCE_EVERY"]) == ("15", "30")


def test_every_number_has_a_fallback_line(rendered: dict[str, str]) -> None:
    text = rendered["extensions_hotline.conf"]
    assert "HOTLINE_AGI=agi://127.0.0.1:4573/agi-Vx3q_8nMw-2Lp" in text  # the secret in it
    for number, line in [
        ("0800213103", "information"),
        ("0322920055", "ge-consultation"),
        ("2145145", "ge-rehabilitation"),
    ]:
        assert f"exten => {number},1,Set(HOTLINE_LINE={line})" in text


def test_secrets_are_private_files(rendered: dict[str, str], tmp_path: Path) -> None:
    for name in ("pjsip_hotline.conf", "manager_hotline.conf", "extensions_hotline.conf"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name


def endpoint(pjsip: dict[str, list[dict[str, str]]], name: str) -> dict[str, str]:
    (found,) = [s for s in pjsip[name] if s.get("type") == "endpoint"]
    return found


def test_the_trunk_is_known_by_its_address_only(rendered: dict[str, str]) -> None:
    """PJSIP's default identify_by (username,ip) would take an INVITE from anywhere with
    From: <sip:trunk@...> for the carrier's."""
    pjsip = sections(rendered["pjsip_hotline.conf"])
    assert endpoint(pjsip, "trunk")["identify_by"] == "ip"
    assert "outbound_auth" not in endpoint(pjsip, "trunk")  # this carrier asks no password


def test_phones_work_from_behind_nat(rendered: dict[str, str]) -> None:
    pjsip = sections(rendered["pjsip_hotline.conf"])
    for phone in ("op1", "sup1"):
        found = endpoint(pjsip, phone)
        assert found["identify_by"] == "username"
        assert (found["rewrite_contact"], found["force_rport"], found["rtp_symmetric"]) == (
            "yes",
            "yes",
            "yes",
        )
        assert found["direct_media"] == "no"
        assert "media_encryption" not in found  # optional by default


def with_config(deployment: Deployment, **changes: object) -> Deployment:
    from dataclasses import replace

    return replace(deployment, **changes)  # type: ignore[arg-type]


def test_transports_follow_the_config(deployment: Deployment, tmp_path: Path) -> None:
    sip = deployment.sip.model_copy(
        update={
            "bind": ipaddress.ip_address("0.0.0.0"),
            "external_address": "203.0.113.7",
            "local_networks": [ipaddress.ip_network("10.0.0.0/8")],
        }
    )
    render(with_config(deployment, sip=sip), SECRETS, tmp_path, "agi://x")
    pjsip = sections((tmp_path / "pjsip_hotline.conf").read_text())
    (udp,) = pjsip["transport-udp"]
    (tls,) = pjsip["transport-tls"]
    assert udp["bind"] == "0.0.0.0:5060" and tls["bind"] == "0.0.0.0:5061"
    for transport in (udp, tls):
        assert transport["external_signaling_address"] == "203.0.113.7"
        assert transport["external_media_address"] == "203.0.113.7"
        assert transport["local_net"] == "10.0.0.0/8"
    assert tls["cert_file"] == "/etc/asterisk/keys/hotline.crt"
    assert tls["priv_key_file"] == "/etc/asterisk/keys/hotline.key"


def test_required_encryption_means_tls_and_srtp_on_phones(
    deployment: Deployment, tmp_path: Path
) -> None:
    phones = deployment.phones.model_copy(update={"udp": False, "encryption": "required"})
    render(with_config(deployment, phones=phones), SECRETS, tmp_path, "agi://x")
    pjsip = sections((tmp_path / "pjsip_hotline.conf").read_text())
    for phone in ("op3", "sup1"):
        found = endpoint(pjsip, phone)
        assert found["media_encryption"] == "sdes"
        assert found["media_encryption_optimistic"] == "no"
        assert found["transport"] == "transport-tls"
    assert "media_encryption" not in endpoint(pjsip, "trunk")  # the carrier: plain RTP


def test_a_carrier_that_wants_registration(deployment: Deployment, tmp_path: Path) -> None:
    trunk = deployment.trunk.model_copy(update={"auth": True, "registration": True})
    env = SECRETS | {"HOTLINE_TRUNK_USERNAME": "hotline-ua", "HOTLINE_TRUNK_PASSWORD": "c4rr!er"}
    render(with_config(deployment, trunk=trunk), env, tmp_path, "agi://x")
    pjsip = sections((tmp_path / "pjsip_hotline.conf").read_text())
    assert endpoint(pjsip, "trunk")["outbound_auth"] == "trunk-auth"
    assert endpoint(pjsip, "trunk")["from_user"] == "hotline-ua"
    (auth,) = pjsip["trunk-auth"]
    assert (auth["username"], auth["password"]) == ("hotline-ua", "c4rr!er")
    (registration,) = [s for s in pjsip["trunk"] if s["type"] == "registration"]
    assert registration["server_uri"] == "sip:127.0.0.2:5070"
    assert registration["client_uri"] == "sip:hotline-ua@127.0.0.2"
    assert registration["outbound_auth"] == "trunk-auth"
    with pytest.raises(RenderError, match="HOTLINE_TRUNK_PASSWORD"):
        render(
            with_config(deployment, trunk=trunk),
            SECRETS | {"HOTLINE_TRUNK_USERNAME": "hotline-ua"},
            tmp_path,
            "agi://x",
        )


@pytest.mark.parametrize(
    ("missing", "value", "message"),
    [
        ("HOTLINE_SIP_PASSWORD_OP3", "", "HOTLINE_SIP_PASSWORD_OP3 is not set"),
        ("HOTLINE_AMI_SECRET", "", "HOTLINE_AMI_SECRET is not set"),
        ("HOTLINE_SIP_PASSWORD_OP1", "a;b", "cannot carry"),
        ("HOTLINE_SIP_PASSWORD_OP2", "op2-2026", "too weak: 8 characters, at least 12"),
        ("HOTLINE_SIP_PASSWORD_OP4", "Password-Op4-2026", "too weak: it contains a well-known"),
        ("HOTLINE_AMI_SECRET", "abababababababab", "too weak: it repeats too few different"),
        ("HOTLINE_AGI_SECRET", "", "HOTLINE_AGI_SECRET is not set"),
        ("HOTLINE_AGI_SECRET", "agi/Vx3q8nMw-2Lp", "only letters, digits"),
    ],
)
def test_a_missing_or_weak_secret_is_named(
    deployment: Deployment, tmp_path: Path, missing: str, value: str, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        render(deployment, SECRETS | {missing: value}, tmp_path, "agi://x")


# -- the machine around Asterisk --------------------------------------------------------------
def jail(text: str) -> dict[str, str]:
    """The jail's settings (its comments start with #, Asterisk's with ;)."""
    (section,) = sections(text.replace("#", ";"))["hotline-sip"]
    return section


def test_the_jail_counts_failed_logins_in_the_security_log(deployment: Deployment) -> None:
    found = jail(fail2ban_jail(deployment))
    assert found["enabled"] == "true"
    assert found["filter"] == "asterisk"  # fail2ban's own filter, SecurityEvent lines included
    assert found["logpath"] == "/var/log/asterisk/security"
    assert (found["maxretry"], found["findtime"], found["bantime"]) == ("5", "600", "900")
    assert found["backend"] == "auto"  # never the systemd journal: Asterisk writes a file


def test_the_jail_never_bans_the_ignored_addresses_or_the_carrier(
    deployment: Deployment,
) -> None:
    ban = deployment.security.ban.model_copy(
        update={"ignore": [ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("10.8.0.0/16")]}
    )
    trunk = deployment.trunk.model_copy(
        update={
            "addresses": [ipaddress.ip_network("127.0.0.2"), ipaddress.ip_network("2001:db8::/64")]
        }
    )
    security = deployment.security.model_copy(update={"ban": ban})
    found = jail(fail2ban_jail(with_config(deployment, security=security, trunk=trunk)))
    assert found["ignoreip"].split() == [
        "127.0.0.1/32",
        "10.8.0.0/16",
        "127.0.0.2/32",
        "2001:db8::/64",
    ]
    assert found["ignoreself"] == "false"  # nothing implicit


def test_a_banned_address_is_dropped_on_every_port(deployment: Deployment) -> None:
    action = jail(fail2ban_jail(deployment))["action"]
    assert action.startswith("nftables[") and "type=allports" in action
    assert 'protocol="udp,tcp"' in action and "blocktype=drop" in action


def test_fail2ban_cannot_watch_a_path_with_a_space(deployment: Deployment) -> None:
    with pytest.raises(RenderError, match="space"):
        fail2ban_jail(deployment, "/srv/my sandbox/var/log/asterisk/security")


def rules(ruleset: str) -> list[str]:
    return [
        line.strip()
        for line in ruleset.splitlines()
        if line.strip().startswith(("udp", "ip", "tcp"))
    ]


def test_with_udp_for_phones_the_sip_port_is_open_to_all(deployment: Deployment) -> None:
    ruleset = nftables(deployment)
    assert "table inet hotline {" in ruleset
    assert rules(ruleset) == []


def test_without_udp_for_phones_udp_is_the_carriers_alone(deployment: Deployment) -> None:
    phones = deployment.phones.model_copy(update={"udp": False, "encryption": "required"})
    trunk = deployment.trunk.model_copy(
        update={
            "addresses": [
                ipaddress.ip_network("198.51.100.0/28"),
                ipaddress.ip_network("2001:db8::7"),
            ]
        }
    )
    sip = deployment.sip.model_copy(update={"udp_port": 5070})
    ruleset = nftables(with_config(deployment, phones=phones, trunk=trunk, sip=sip))
    assert rules(ruleset) == [
        "udp dport 5070 ip saddr { 198.51.100.0/28 } accept",
        "udp dport 5070 ip6 saddr { 2001:db8::7/128 } accept",
        "udp dport 5070 drop",
    ]
    # loading it again replaces the table, never stacks a second copy
    assert ruleset.index("delete table inet hotline") < ruleset.index("table inet hotline {")


def test_render_firewall_writes_the_jail_and_the_ruleset(
    deployment: Deployment, tmp_path: Path
) -> None:
    written = render_firewall(deployment, tmp_path, "/srv/sandbox/var/log/asterisk/security")
    assert [path.name for path in written] == ["fail2ban-hotline.conf", "nftables-hotline.nft"]
    assert "logpath = /srv/sandbox/var/log/asterisk/security" in written[0].read_text()
    assert "/etc/fail2ban/jail.d/" in written[0].read_text()


def test_each_operator_has_a_desk_phone_with_no_password_in_the_files(
    rendered: dict[str, str],
) -> None:
    """The desk's phone: a WebRTC endpoint on the secure WebSocket, in the operator's own
    context, whose credentials exist only while a desk session holds them."""
    pjsip = sections(rendered["pjsip_hotline.conf"])
    for operator in ("op1", "ge2", "gr1"):
        phone = endpoint(pjsip, desk_phone(operator))
        softphone = endpoint(pjsip, operator)
        assert (phone["webrtc"], phone["transport"]) == ("yes", "transport-wss")
        assert phone["allow"] == "opus,ulaw,alaw"
        assert (phone["context"], phone["set_var"]) == (softphone["context"], softphone["set_var"])
        assert phone["callerid"] == softphone["callerid"]
        assert phone["auth"] == desk_phone(operator)
        assert all(s.get("type") != "auth" for s in pjsip[desk_phone(operator)])
        (aor,) = [s for s in pjsip[desk_phone(operator)] if s.get("type") == "aor"]
        assert (aor["max_contacts"], aor["remove_existing"]) == ("1", "yes")
    assert desk_phone("sup1") not in pjsip  # a supervisor's is not the desk's
    (wss,) = pjsip["transport-wss"]
    assert wss["protocol"] == "wss"


def test_the_desk_phone_is_reached_over_tls_only(rendered: dict[str, str]) -> None:
    (http,) = sections(rendered["http_hotline.conf"])["general"]
    assert (http["enabled"], http["tlsenable"]) == ("yes", "yes")
    assert http["tlsbindaddr"] == "127.0.0.1:8089"
    assert http["tlscertfile"] == "/etc/asterisk/keys/hotline.crt"
    assert http["bindaddr"] == "127.0.0.1"  # Asterisk's plain port: the loopback's only
    assert http["enablestatic"] == "no"


def test_without_browser_phones_no_http_server_and_no_desk_endpoint(
    deployment: Deployment, tmp_path: Path
) -> None:
    phones = deployment.phones.model_copy(update={"browser": False})
    render(with_config(deployment, phones=phones), SECRETS, tmp_path, "agi://x")
    pjsip = sections((tmp_path / "pjsip_hotline.conf").read_text())
    assert "transport-wss" not in pjsip and desk_phone("op1") not in pjsip
    (http,) = sections((tmp_path / "http_hotline.conf").read_text())["general"]
    assert http == {"enabled": "no"}
