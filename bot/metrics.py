"""Prometheus metrics, on prometheus_client's default registry (served at /metrics
when ``REDRAW_METRICS_PORT`` is set; see bot/app/monitor.py).

Counters are per process: Prometheus sums them over instances. Buckets follow the
provider's pace: a picture takes 30 s to 5 min, one request up to the 600 s timeout.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TURN_BUCKETS = (1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, float("inf"))
WAIT_BUCKETS = (0.01, 0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, float("inf"))

TURNS = Counter(
    "redraw_turns",
    "Turns finished, by how they ended (done, failed, cancelled, interrupted)",
    ["platform", "backend", "status"],
)
TURN_SECONDS = Histogram(
    "redraw_turn_duration_seconds",
    "From the request to the pictures sent (or the failure), queueing included",
    ["backend", "status"],
    buckets=TURN_BUCKETS,
)
QUEUE_SECONDS = Histogram(
    "redraw_queue_wait_seconds",
    "Time a turn waited for a slot under the per-user, per-chat and global limits",
    buckets=WAIT_BUCKETS,
)
UPSTREAM_SECONDS = Histogram(
    "redraw_upstream_request_duration_seconds",
    "One request to the image provider, until its status is known",
    ["endpoint", "status"],
    buckets=TURN_BUCKETS,
)
IN_FLIGHT = Gauge("redraw_turns_in_flight", "Turns this instance is working on (waiting ones included)")
WAITING = Gauge("redraw_turns_waiting", "Turns of this instance waiting for a slot")
COST = Counter("redraw_cost_usd", "Charged to the ledger, in USD", ["platform", "model"])
UPSTREAM_ERRORS = Counter(
    "redraw_upstream_errors",
    "Failed provider requests (every attempt, retried or not), by kind",
    ["kind"],
)
