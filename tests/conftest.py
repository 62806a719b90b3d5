from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from hotline.config.deployment import Deployment
from hotline.config.loading import load

ROOT = Path(__file__).resolve().parents[1]

# No deadline on an example: on 2 cores beside the integration tests' Asterisks an example may
# take 500 ms where it takes 20 alone. How fast the code is is the benchmarks' to say (bench/);
# a property test says whether it is right.
settings.register_profile("hotline", deadline=None)
settings.load_profile("hotline")


def ukraine(config: dict[str, Any]) -> dict[str, Any]:
    """The default config's Ukrainian organisation (its lines, operators, ...), to change."""
    organisation: dict[str, Any] = config["organisations"]["ua-legal-aid"]
    return organisation


def with_rules(deployment: Deployment, **changes: Any) -> Deployment:
    """The deployment with queue rules changed, the shared ones and every organisation's
    alike (even past the config's bounds: a test's short timings)."""
    return dataclasses.replace(
        deployment,
        policy=dataclasses.replace(deployment.policy, **changes),
        organisations={
            org_id: dataclasses.replace(org, policy=dataclasses.replace(org.policy, **changes))
            for org_id, org in deployment.organisations.items()
        },
    )


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    """The default deployment of config/hotline.yaml."""
    return load(ROOT / "config/hotline.yaml")


#: The machine's PostgreSQL (trust authentication, database `test`), through its Unix socket:
#: a test process in a network namespace of its own (tests/isolation.py) reaches it there too.
POSTGRES_SOCKET = "/var/run/postgresql"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL for one test; its SQLAlchemy URL."""
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    psql = ["psql", "-q", "-h", POSTGRES_SOCKET, "-U", "postgres", "-d", "test", "-c"]
    subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield f"postgresql+asyncpg://postgres@/{name}?host={POSTGRES_SOCKET}"
    finally:
        subprocess.run([*psql, f'DROP DATABASE "{name}" WITH (FORCE)'], check=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The call log's database for one test, once on SQLite and once on PostgreSQL: its URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    else:
        with postgres_database() as url:
            yield url
