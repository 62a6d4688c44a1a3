"""The score formula: weights, the major-list cap, bounce and complaint penalties, status."""

from reputation.scoring import compute_score


def test_a_clean_ip_with_healthy_rates_scores_100_and_is_good():
    s = compute_score(listings=[], bounce_rate_pct=1.0, complaint_rate_pct=0.05)
    assert (s.score, s.status) == (100, "good")


def test_minor_listings_subtract_their_weights_and_warn():
    s = compute_score(listings=[("bl.spamcop.net", 20, False), ("psbl.surriel.com", 10, False)])
    assert s.score == 70
    assert s.status == "warning"  # on a list, even though the score is not below 70
    assert s.listed_zones == ["bl.spamcop.net", "psbl.surriel.com"]


def test_any_major_listing_caps_the_score_at_40_and_is_critical():
    s = compute_score(listings=[("b.barracudacentral.org", 5, True)])
    assert s.score == 40
    assert s.status == "critical" and s.major_listed


def test_bounce_and_complaint_rates_lower_the_score():
    s = compute_score(listings=[], bounce_rate_pct=6.0, complaint_rate_pct=0.3)
    # bounces: 5 x (6 - 2) = 20; complaints: 100 x (0.3 - 0.1) = 20
    assert s.score == 60 and s.status == "warning"
    assert (s.bounce_penalty, s.complaint_penalty) == (20.0, 20.0)


def test_penalties_are_capped_and_the_score_never_goes_below_zero():
    s = compute_score(
        listings=[("zen", 60, True), ("b", 50, True)], bounce_rate_pct=50, complaint_rate_pct=5
    )
    assert s.bounce_penalty == 30 and s.complaint_penalty == 30
    assert s.score == 0 and s.status == "critical"


def test_no_traffic_means_no_rate_penalty():
    s = compute_score(listings=[], bounce_rate_pct=None, complaint_rate_pct=None)
    assert s.score == 100
