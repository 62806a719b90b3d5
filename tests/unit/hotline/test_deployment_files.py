"""The deployment's own doors, as its files declare them (the images built and run check the
same for real: .ci/images): the service listens on 127.0.0.1 unless told otherwise, only the
guard and the bans hold CAP_NET_ADMIN (in compose and under systemd alike), Asterisk runs as
its own user, its spool folders are nobody's to write but the group's, and compose bans as
the host deployment does."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import ROOT


def compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    return found


def unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's settings (every value of each key, in order)."""
    found: dict[str, list[str]] = {}
    for line in (ROOT / "config/systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_service_image_listens_on_127_0_0_1_by_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    env = dockerfile[dockerfile.index("\nENV ") :].split("\n\n")[0]
    assert "HOTLINE_API_HOST=127.0.0.1" in env and "HOTLINE_AGI_HOST=127.0.0.1" in env
    assert "0.0.0.0" not in env


def test_the_docs_docker_run_recipe_publishes_nothing_by_accident() -> None:
    page = (ROOT / "docs/getting-started.md").read_text()
    recipe = page[page.index("## Run it in containers") :].split("```sh")[1].split("```")[0]
    for run in re.findall(r"docker run .*?(?<!\\)\n", recipe, re.S):
        if " hotline" in run and "render" not in run:
            # on the host's network, where 127.0.0.1 is the host's own; never 0.0.0.0
            assert "--network host" in run, run
            assert "0.0.0.0" not in run and " -p " not in run, run


def test_only_the_guard_and_the_bans_have_cap_net_admin_in_compose() -> None:
    services = compose()
    holders = {name for name, s in services.items() if "NET_ADMIN" in s.get("cap_add", [])}
    assert holders == {"guard", "bans"}
    for name in holders:
        assert services[name]["cap_drop"] == ["ALL"], name
    assert services["hotline"]["cap_drop"] == ["ALL"]
    assert services["hotline"]["environment"]["HOTLINE_GUARD"] == "false"
    assert services["guard"]["command"] == ["hotline", "guard"]


def test_only_the_guard_unit_has_cap_net_admin_under_systemd() -> None:
    service, guard = unit("hotline.service"), unit("hotline-guard.service")
    assert service["CapabilityBoundingSet"] == [""] and service["AmbientCapabilities"] == [""]
    assert "HOTLINE_GUARD=false" in service["Environment"]
    assert "hotline-guard.service" in service["Wants"][0]
    assert guard["AmbientCapabilities"] == ["CAP_NET_ADMIN"]
    assert guard["CapabilityBoundingSet"] == ["CAP_NET_ADMIN"]
    assert guard["ExecStart"][0].endswith("hotline guard")
    assert guard["PartOf"] == ["hotline.service"] and guard["After"] == ["hotline.service"]


def test_compose_bans_what_the_host_deployment_bans() -> None:
    """The bans read the security log Asterisk writes (one volume), with the rendered jail."""
    services = compose()
    logs = [v for v in services["asterisk"]["volumes"] if v.endswith(":/var/log/asterisk")]
    assert logs, services["asterisk"]["volumes"]
    volume = logs[0].split(":")[0]
    assert f"{volume}:/var/log/asterisk:ro" in services["bans"]["volumes"]
    assert "generated:/srv/generated:ro" in services["bans"]["volumes"]
    assert services["bans"]["network_mode"] == "host"  # (the host's firewall)
    start = (ROOT / "asterisk-config/bans-start").read_text()
    assert "fail2ban-hotline.conf" in start and "nftables-hotline.nft" in start


def test_asterisk_runs_as_its_own_user_over_a_spool_nobody_else_writes() -> None:
    start = (ROOT / "asterisk-config/container-start").read_text()
    assert re.search(r"^exec asterisk -f -U asterisk$", start, re.M)
    assert "chmod 0777" not in start and "chmod 2770" in start
    containerfile = (ROOT / "asterisk-config/Containerfile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    gid = re.compile(r"ARG SPOOL_GID=(\d+)")
    assert gid.findall(containerfile) == gid.findall(dockerfile) != []
