"""Phones' transports as the config says. Asterisk cannot refuse a phone by transport, so with
``phones.udp: false`` the firewall (the rendered nftables table) keeps SIP over UDP for the
carrier alone: a phone's REGISTER over UDP gets no answer, the carrier's calls still come in."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.config import Deployment
from tests.integration.conftest import Asterisk, Service, call, config_variant, progress
from tests.integration.register import register


@pytest.fixture
def tls_only(asterisk: Asterisk, deployment: Deployment, tmp_path: Path) -> Iterator[Path]:
    """The sandbox with phones on TLS only (encryption required); its config file. The
    default config again afterwards."""
    path, secure = config_variant(
        tmp_path, phones={"udp": False, "tls": True, "encryption": "required"}
    )
    asterisk.sandbox.up(secure, progress)
    try:
        yield path
    finally:
        asterisk.sandbox.up(deployment, progress)


async def test_without_udp_for_phones_a_phone_cannot_register_over_udp(
    asterisk: Asterisk, tls_only: Path, service: Service, tmp_path: Path
) -> None:
    service.start(config=tls_only)
    mark = asterisk.log_mark()
    password = asterisk.secrets["HOTLINE_SIP_PASSWORD_OP3"]
    assert register(tmp_path, "op3", password, wait=3) is None  # the right password: no answer
    assert "op3/" not in asterisk.sandbox.cli("pjsip show contacts").stdout
    assert "op3@" not in asterisk.log_since(mark)  # dropped before Asterisk saw it
    ruleset = subprocess.run(
        ["nft", "list", "table", "inet", "hotline"], capture_output=True, text=True, check=True
    ).stdout
    assert "udp dport 5060 drop" in ruleset, ruleset
    # while the carrier still calls over UDP
    placed = await call("0800213103", "14", hold_ms=2000)
    assert service.record(placed.call_id)["line"] == "information"
