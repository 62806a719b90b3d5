"""A reload's parts that need no Asterisk: what changed, and what is refused before anything
changes (the reload itself is proven on the sandbox: tests/integration/test_reload.py)."""

from __future__ import annotations

import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.asterisk.render import secret_names
from hotline.config.loading import load
from hotline.config.settings import Settings
from hotline.events import CallEvent, EventBus
from hotline.running.reload import Reloader, ReloadRefused, differences

ROOT = Path(__file__).resolve().parents[4]


def test_differences_are_named_as_paths_in_the_config() -> None:
    old = {"sip": {"udp_port": 5060}, "organisations": {"ua": {"operators": {"op1": {"a": 1}}}}}
    new = {"sip": {"udp_port": 5062}, "organisations": {"ua": {"operators": {"op2": {"a": 1}}}}}
    assert differences(old, new) == [
        "sip.udp_port: changed",
        "organisations.ua.operators.op1: removed",
        "organisations.ua.operators.op2: added",
    ]
    assert differences(old, old) == []


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "hotline.yaml"
    shutil.copy(ROOT / "config/hotline.yaml", path)
    return path


def reloader(config: Path, taken: list[Any], events: list[CallEvent]) -> Reloader:
    settings = Settings(config=config, prompts_dir=ROOT / "recordings/prompts", _env_file=None)
    bus = EventBus()
    bus.subscribe(events.append)
    return Reloader(
        settings.model_copy(update={"asterisk_root": None, "sandbox_dir": config.parent}),
        taken.append,
        None,
        bus,
        lambda: datetime.now(UTC),
    )


def edit(path: Path, change: Any) -> None:
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))


async def test_a_config_that_cannot_run_is_refused_and_nothing_is_taken(config: Path) -> None:
    taken: list[Any] = []
    events: list[CallEvent] = []
    reload = reloader(config, taken, events)
    ops = ("organisations", "ua-legal-aid", "operators")

    def broken(raw: Any) -> None:
        raw[ops[0]][ops[1]][ops[2]]["op1"]["lines"] = ["nowhere"]

    edit(config, broken)
    with pytest.raises(ReloadRefused) as refused:
        await reload.reload("test")
    assert any("nowhere" in problem for problem in refused.value.problems)
    assert taken == [] and events == []


async def test_a_change_only_a_restart_takes_is_refused_naming_it(config: Path) -> None:
    taken: list[Any] = []
    reload = reloader(config, taken, [])
    edit(config, lambda raw: raw["sip"].update({"udp_port": 5062}))
    with pytest.raises(ReloadRefused) as refused:
        await reload.reload("test")
    assert refused.value.problems == [
        f"{config}: sip.udp_port: changed: only a restart takes this (Asterisk's transports)"
    ]
    assert taken == []


async def test_a_new_operator_without_a_password_is_refused_naming_the_variable(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[Any] = []
    reload = reloader(config, taken, [])
    for name in secret_names(load(config)):  # every secret but the new lawyer's
        monkeypatch.setenv(name, secrets.token_urlsafe(18))
    monkeypatch.delenv("HOTLINE_SIP_PASSWORD_OP7", raising=False)

    def hire(raw: Any) -> None:
        raw["organisations"]["ua-legal-aid"]["operators"]["op7"] = {
            "name": "Lawyer 7", "office": "sumy", "lines": ["consultation"],
            "languages": ["uk"], "code": "97",
        }  # fmt: skip

    edit(config, hire)
    with pytest.raises(ReloadRefused) as refused:
        await reload.reload("test")
    assert "HOTLINE_SIP_PASSWORD_OP7 is not set" in str(refused.value)
    assert taken == []
