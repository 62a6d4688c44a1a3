"""DORA targets are judged as they are written, on the value as pages show it."""

from __future__ import annotations

from incidents.selectors import meets_dora_targets


def test_a_figure_on_the_boundary_misses_a_strict_target():
    verdicts = meets_dora_targets(
        {
            "deploy_frequency_per_week": 1.0,  # ≥ 1/week: met on the boundary
            "change_failure_rate_pct": 5.0,  # < 5%: missed on the boundary
            "mttr_critical_hours": 3.96,  # shown as "4.0 h": not < 4 h
        }
    )
    assert verdicts == {
        "deploy_frequency_per_week": True,
        "change_failure_rate_pct": False,
        "mttr_critical_hours": False,
    }


def test_a_figure_below_a_strict_target_meets_it_and_no_figure_is_no_verdict():
    verdicts = meets_dora_targets({"change_failure_rate_pct": 4.9, "mttr_critical_hours": None})
    assert verdicts["change_failure_rate_pct"] is True
    assert verdicts["mttr_critical_hours"] is None
    assert verdicts["deploy_frequency_per_week"] is None
