from __future__ import annotations

from pathlib import Path

import pytest

from hotline.config import Deployment, load

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    """The default deployment of config/hotline.yaml."""
    return load(ROOT / "config/hotline.yaml")
