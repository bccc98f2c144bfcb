"""What an operator watches: the Prometheus endpoint and the health check."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import free_port, until_healthy
from tests.telegram.conftest import ALICE, PRIVATE, TelegramWorld


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_turns_cost_latency_and_upstream_errors(
    idle_world: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    port = free_port()
    runtime = await idle_world.start(redraw_metrics_port=port, redraw_metrics_listen="127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    assert await until_healthy(f"{base}/healthz") == "ok\n"
    before = await scrape(f"{base}/metrics")

    tg.send(PRIVATE, ALICE, "a red kite")
    await tg.wait_photo(PRIVATE)
    fake.fail("moderation")
    tg.send(PRIVATE, ALICE, "a blue kite")
    await tg.wait_text(PRIVATE, "safety")
    await tg.settle()
    after = await scrape(f"{base}/metrics")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    turn = {"platform": "telegram", "backend": "responses"}
    assert grew("redraw_turns_total", status="done", **turn) == 1
    assert grew("redraw_turns_total", status="failed", **turn) == 1
    assert grew("redraw_cost_usd_total", platform="telegram", model="gpt-image-2") > 0
    assert grew("redraw_upstream_errors_total", kind="content_blocked") == 1
    assert grew("redraw_turn_duration_seconds_count", backend="responses", status="done") == 1
    assert grew("redraw_turn_duration_seconds_bucket", backend="responses", status="done", le="+Inf") == 1
    assert grew("redraw_queue_wait_seconds_count") == 2
    assert grew("redraw_upstream_request_duration_seconds_count", endpoint="responses", status="200") == 1
    assert value(after, "redraw_turns_in_flight") == 0 and value(after, "redraw_turns_waiting") == 0

    # A platform that stops taking updates makes the instance unhealthy.
    await runtime.adapters[0].stop_receiving()
    async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as response:
        assert response.status == 503
        assert "telegram: not receiving updates" in await response.text()
