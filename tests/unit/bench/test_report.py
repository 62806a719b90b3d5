"""The bench's pure helpers: quantiles of samples and of Prometheus histograms."""

from __future__ import annotations

import math

import pytest

from bench.measure import quantile
from bench.report import Scrape, batch_means_ci95, histogram_quantile, same_rate_cpu


def histogram(buckets: dict[float, float]) -> Scrape:
    return {
        "lag": [("lag_bucket", {"le": str(le)}, count) for le, count in buckets.items()]
        + [("lag_count", {}, max(buckets.values()))]
    }


def test_sample_quantiles() -> None:
    assert quantile([], 0.5) is None
    assert quantile([3.0], 0.99) == 3.0
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert quantile([0.0, 10.0], 0.99) == pytest.approx(9.9)


def test_histogram_quantile_interpolates_within_a_bucket() -> None:
    scrape = histogram({0.01: 50, 0.1: 100, math.inf: 100})
    assert histogram_quantile([scrape], "lag", 0.5) == pytest.approx(0.01)
    assert histogram_quantile([scrape], "lag", 0.75) == pytest.approx(0.055)


def test_histograms_of_several_runs_add_up() -> None:
    fast = histogram({0.01: 100, 0.1: 100, math.inf: 100})
    slow = histogram({0.01: 0, 0.1: 100, math.inf: 100})
    assert histogram_quantile([fast, slow], "lag", 0.25) == pytest.approx(0.005)
    assert histogram_quantile([fast, slow], "lag", 0.99) == pytest.approx(0.0982)


def test_an_empty_histogram_has_no_quantile() -> None:
    assert histogram_quantile([], "lag", 0.99) is None
    assert histogram_quantile([histogram({0.1: 0, math.inf: 0})], "lag", 0.99) is None


def test_batch_means_interval() -> None:
    steady = [1.0] * 80
    assert batch_means_ci95(steady) == 0.0
    assert batch_means_ci95([1.0] * 8) is None  # batches of one say nothing
    swinging = [float(n // 10 % 2) for n in range(80)]  # batches alternate 0 and 1
    assert batch_means_ci95(swinging) == pytest.approx(2.365 * 0.5345 / math.sqrt(8), rel=1e-3)


def test_asterisks_cpu_is_compared_at_the_highest_rate_both_arms_pass() -> None:
    def step(rate: float, cpu: float, failed: int = 0) -> dict[str, object]:
        return {"rate": rate, "failed": failed, "cpu_ms_per_call": {"asterisk": cpu}}

    baseline = [step(100, 6.0), step(140, 6.5), step(160, 6.6), step(180, 9.0, failed=3)]
    service = [step(100, 6.4), step(140, 7.0), step(160, 7.5, failed=1)]
    assert same_rate_cpu(baseline, service) == (140, 6.5, 7.0)
    assert same_rate_cpu(baseline, []) is None
