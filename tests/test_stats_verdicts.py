"""Verdicts and the Benjamini–Hochberg adjustment (the quadrant and decision rules: test_rules.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pipelines.stats.multiple import benjamini_hochberg
from pipelines.stats.verdicts import verdict, verdicts


def test_benjamini_hochberg_matches_reference() -> None:
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    np.testing.assert_allclose(adjusted, [0.04, 0.0533, 0.0533, 0.2], atol=5e-5)


def test_benjamini_hochberg_passes_nan_through_and_ignores_it_in_the_count() -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.2])
    adjusted = benjamini_hochberg(p)
    assert np.isnan(adjusted[[1, 4]]).all()
    np.testing.assert_allclose(adjusted[[0, 2, 3, 5]], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])


def test_benjamini_hochberg_agrees_with_scipy_on_random_p_values() -> None:
    p = np.random.default_rng(1).uniform(size=500) ** 3
    np.testing.assert_array_equal(benjamini_hochberg(p), stats.false_discovery_control(p))
    assert np.isnan(benjamini_hochberg([np.nan, np.nan])).all()


@pytest.mark.parametrize(
    ("ci", "n_base", "n_post", "events", "expected"),
    [
        ((-0.30, -0.05), 100, 100, None, "improved"),
        ((0.05, 0.30), 100, 100, None, "worsened"),
        ((-0.30, 0.05), 100, 100, None, "no_clear_change"),
        ((-0.30, 0.0), 100, 100, None, "no_clear_change"),  # touching 0 is not a change
        ((0.0, 0.30), 100, 100, None, "no_clear_change"),
        ((-0.30, -0.05), 29, 100, None, "insufficient_data"),
        ((-0.30, -0.05), 100, 29, None, "insufficient_data"),
        ((-0.30, -0.05), 30, 30, None, "improved"),
        ((-0.30, -0.05), 100, 100, 9, "insufficient_data"),
        ((-0.30, -0.05), 100, 100, 10, "improved"),
        ((np.nan, np.nan), 100, 100, None, "insufficient_data"),
    ],
)
def test_verdict(ci: tuple[float, float], n_base: int, n_post: int, events: int | None, expected: str) -> None:
    assert verdict(ci[0], ci[1], n_base, n_post, events_total=events) == expected


def test_verdict_thresholds_are_configurable() -> None:
    assert verdict(-0.3, -0.1, 10, 10, min_closed=10) == "improved"
    assert verdict(-0.3, -0.1, 100, 100, events_total=15, min_events=20) == "insufficient_data"


def test_verdicts_vectorised_with_nan_meaning_not_a_share() -> None:
    result = verdicts(
        ci_low=[-0.3, 0.1, -0.3, -0.3],
        ci_high=[-0.1, 0.2, 0.1, -0.1],
        n_closed_base=[50, 50, 50, 50],
        n_closed_post=[50, 50, 50, 50],
        events_total=[np.nan, np.nan, 40, 4],
    )
    assert result.tolist() == ["improved", "worsened", "no_clear_change", "insufficient_data"]


@pytest.mark.parametrize(
    ("ci", "estimate", "expected"),
    [
        ((-30.0, -5.0), -17.0, "improved"),
        ((-6.0, -1.0), -3.0, "negligible"),  # real but smaller than the 5% that matters
        ((1.0, 6.0), 3.0, "negligible"),
        ((2.0, 30.0), 16.0, "worsened"),
        ((-30.0, 2.0), -14.0, "no_clear_change"),
        ((-9.0, -4.0), -5.0, "improved"),  # the threshold is inclusive
    ],
)
def test_negligible_when_the_change_is_smaller_than_the_minimum_meaningful(
    ci: tuple[float, float], estimate: float, expected: str
) -> None:
    assert verdict(ci[0], ci[1], 100, 100, estimate=estimate, min_meaningful_pct=5.0) == expected


@pytest.mark.parametrize(
    ("coverage", "expected"), [(0.79, "insufficient_baseline"), (0.8, "improved"), (None, "improved")]
)
def test_insufficient_baseline_below_the_coverage_threshold(coverage: float | None, expected: str) -> None:
    result = verdict(-30.0, -10.0, 5 if coverage == 0.79 else 100, 100, estimate=-20.0, min_meaningful_pct=5.0,
                     baseline_coverage=coverage, min_baseline_coverage=0.8)  # fmt: skip
    assert result == expected
