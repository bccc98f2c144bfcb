"""Prometheus metrics, on prometheus_client's default registry (served at /metrics
when ``REDRAW_METRICS_PORT`` is set; see bot/app/monitor.py).

Counters are per process: Prometheus sums them over instances. Buckets follow the
provider's pace: a picture takes 30 s to 5 min, one request up to the 600 s timeout.

The metrics exist only once they are served (:func:`enable`): until then a call
costs nothing and prometheus_client is not imported, which an instance without a
metrics port does not need to carry in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

TURN_BUCKETS = (1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, float("inf"))
WAIT_BUCKETS = (0.01, 0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, float("inf"))


class Sample(Protocol):
    def inc(self, amount: float = 1) -> None: ...

    def dec(self, amount: float = 1) -> None: ...

    def observe(self, amount: float) -> None: ...


class _Nothing:
    def inc(self, amount: float = 1) -> None:
        pass

    def dec(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass


_NOTHING = _Nothing()


class Metric:
    """A prometheus_client Counter, Gauge or Histogram, made by :func:`enable`."""

    def __init__(self, kind: str, name: str, documentation: str, labels: Sequence[str] = (), **options: Any):
        self.kind, self.name, self.documentation = kind, name, documentation
        self.label_names, self.options = tuple(labels), options
        self.real: Any = None

    def labels(self, *values: str) -> Sample:
        if self.real is None:
            return _NOTHING
        child: Sample = self.real.labels(*values)
        return child

    def inc(self, amount: float = 1) -> None:
        if self.real is not None:
            self.real.inc(amount)

    def dec(self, amount: float = 1) -> None:
        if self.real is not None:
            self.real.dec(amount)

    def observe(self, amount: float) -> None:
        if self.real is not None:
            self.real.observe(amount)


TURNS = Metric(
    "counter",
    "redraw_turns",
    "Turns finished, by how they ended (done, failed, cancelled, interrupted)",
    ["platform", "backend", "status"],
)
TURN_SECONDS = Metric(
    "histogram",
    "redraw_turn_duration_seconds",
    "From the request to the pictures sent (or the failure), queueing included",
    ["backend", "status"],
    buckets=TURN_BUCKETS,
)
QUEUE_SECONDS = Metric(
    "histogram",
    "redraw_queue_wait_seconds",
    "Time a turn waited for a slot under the per-user, per-chat and global limits",
    buckets=WAIT_BUCKETS,
)
UPSTREAM_SECONDS = Metric(
    "histogram",
    "redraw_upstream_request_duration_seconds",
    "One request to the image provider, until its status is known",
    ["endpoint", "status"],
    buckets=TURN_BUCKETS,
)
IN_FLIGHT = Metric(
    "gauge", "redraw_turns_in_flight", "Turns this instance is working on (waiting ones included)"
)
WAITING = Metric("gauge", "redraw_turns_waiting", "Turns of this instance waiting for a slot")
COST = Metric("counter", "redraw_cost_usd", "Charged to the ledger, in USD", ["platform", "model"])
UPSTREAM_ERRORS = Metric(
    "counter",
    "redraw_upstream_errors",
    "Failed provider requests (every attempt, retried or not), by kind",
    ["kind"],
)
ALL = (TURNS, TURN_SECONDS, QUEUE_SECONDS, UPSTREAM_SECONDS, IN_FLIGHT, WAITING, COST, UPSTREAM_ERRORS)


def enable() -> None:
    """Start counting (once per process; the metrics are about to be served)."""
    from prometheus_client import Counter, Gauge, Histogram  # noqa: PLC0415 (only when served)

    kinds = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}
    for metric in ALL:
        if metric.real is None:
            make = kinds[metric.kind]
            metric.real = make(metric.name, metric.documentation, metric.label_names, **metric.options)
