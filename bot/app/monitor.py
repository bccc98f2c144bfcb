"""The operator's HTTP endpoint (``REDRAW_METRICS_PORT``): ``/metrics`` for Prometheus
and ``/healthz`` for a load balancer, Docker's health check or Kubernetes.

``/healthz`` answers 200 ``ok`` while every platform takes updates and the instance's
heartbeat reaches the database, else 503 with one line per problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from bot.telemetry import metrics

log = logging.getLogger(__name__)

Problems = Callable[[], list[str]]


class Monitor:
    def __init__(self, problems: Problems, host: str, port: int) -> None:
        metrics.enable()
        self.problems = problems
        self.host = host
        self.port = port
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)

    async def close(self) -> None:
        await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        # A few kilobytes of text: rendering it on the loop is cheap.
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, request: web.Request) -> web.Response:
        problems = self.problems()
        if problems:
            return web.Response(status=503, text="\n".join(problems) + "\n")
        return web.Response(text="ok\n")
