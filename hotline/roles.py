"""The roles an API token has (:mod:`hotline.api.access` decides what each may do): here
alone, so that the CLI lists them as choices without importing the API."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    VIEWER = "viewer"
    #: Reads /metrics (and /health's detail) only: what a Prometheus scraper is given.
    METRICS = "metrics"
