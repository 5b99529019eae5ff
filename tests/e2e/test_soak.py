"""The CI version of the soak (`make soak` runs 10 minutes): 60 seconds of whole client lives against
gunicorn with zero 5xx, zero unexpected answers, zero lost registrations and bounded worker memory."""

import json

import pytest

from harness.soak import MAX_RSS_GROWTH_MB, run

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(240)
def test_a_minute_of_mixed_load_has_no_5xx_no_lost_registration_and_bounded_memory():
    summary = run(duration=60, threads=4)
    report = json.dumps(summary, indent=2)
    assert summary["problems"] == [], report
    assert summary["answers"].get("5xx", 0) == 0, report
    assert summary["lost_registrations"] == [], report
    assert summary["rss_growth_mb"] < MAX_RSS_GROWTH_MB, report
    assert summary["steps"]["lives"] >= 20, report  # the load really ran
