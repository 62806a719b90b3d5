"""The Prometheus files an operator installs (config/prometheus/): Prometheus' own promtool
finds them valid, and its rule tests (prometheus/alerts_test.yml) see each alert fire when it
should and only then: the standby's figures never raise one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[4]
CONFIG = ROOT / "config/prometheus"


def promtool(*args: str | Path) -> str:
    done = subprocess.run(
        ["promtool", *map(str, args)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_alert_rules_and_the_scrape_config_are_valid(tmp_path: Path) -> None:
    assert "SUCCESS: 13 rules found" in promtool("check", "rules", CONFIG / "hotline-alerts.yml")
    # installed as docs/operations.md says: the rules and the metrics token beside the config
    for name in ("prometheus.yml", "hotline-alerts.yml"):
        shutil.copy(CONFIG / name, tmp_path / name)
    (tmp_path / "hotline-metrics.token").write_text("hl_a-metrics-token-of-every-organisation")
    assert "SUCCESS" in promtool("check", "config", tmp_path / "prometheus.yml")


def test_each_alert_fires_when_it_should() -> None:
    tests = Path(__file__).parent / "prometheus/alerts_test.yml"
    assert "SUCCESS" in promtool("test", "rules", tests)
