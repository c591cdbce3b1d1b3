"""Metrics of the captures. Labels are bounded (kind, outcome, check name): never ids or data."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

CAPTURES = Counter("biometrics_captures_total", "Capture attempts by kind and outcome.",
                   ["kind", "outcome"])  # outcome: accepted|overridden|rejected|invalid|missing
CHECKS = Counter("biometrics_check_results_total", "Results of the automatic checks.",
                 ["kind", "check", "result"])
OVERRIDES = Counter("biometrics_overrides_total", "Captures accepted by an officer despite failing checks.",
                    ["kind"])
PROCESSING_SECONDS = Histogram("biometrics_image_processing_seconds", "Time to check one image.", ["kind"],
                               buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5))
INTERVIEWS = Counter("biometrics_interviews_total", "Interviews recorded, by outcome.", ["outcome"])
