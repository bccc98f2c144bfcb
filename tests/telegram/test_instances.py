"""Several instances behind a load balancer, in webhook mode, on one PostgreSQL
database: each update is handled once, whichever instances it reaches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app.runtime import Runtime
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import free_port
from tests.telegram.conftest import ADAPTER_OPTIONS, ALICE, PRIVATE, TelegramWorld, settings_for


async def _instance(world: TelegramWorld) -> tuple[Runtime, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    runtime = await world.start(
        redraw_webhook_url=url, redraw_webhook_listen="127.0.0.1", redraw_webhook_port=port
    )
    return runtime, url


async def test_two_webhook_instances_handle_each_update_once(
    tg: FakeTelegram, fake: FakeOpenAI, tmp_path: Path, pg_database: str
) -> None:
    world = TelegramWorld(
        tg=tg,
        openai=fake,
        settings=settings_for(tg, fake, tmp_path / "data", redraw_database_url=pg_database),
        platforms=("telegram",),
        adapter_options={"telegram": ADAPTER_OPTIONS},
    )
    try:
        (one, first_url), (_, second_url) = await _instance(world), await _instance(world)
        since = datetime.now(UTC) - timedelta(minutes=1)

        async def to_both(update: dict[str, object]) -> None:
            # The load balancer sent Telegram's retry to the other instance.
            statuses = await asyncio.gather(
                tg.post_to_webhook(update, url=first_url), tg.post_to_webhook(update, url=second_url)
            )
            assert list(statuses) == [200, 200]

        message = tg.send(PRIVATE, ALICE, "a green parrot", deliver=False)
        await to_both({"update_id": 101, "message": message})
        photo = await tg.wait_photo(PRIVATE)
        await tg.settle()
        assert len(world.provider_calls()) == 1
        assert (await one.store.usage("telegram", since, user_id=str(ALICE.id)))[0] == 1

        # A button press reaching both: one more picture, one more charge.
        await to_both({"update_id": 102, "callback_query": tg.button_press(photo, "🔁", ALICE)})
        await tg.wait_photo(PRIVATE, after=photo["message_id"])
        await tg.settle()
        assert len(world.provider_calls()) == 2
        assert (await one.store.usage("telegram", since, user_id=str(ALICE.id)))[0] == 2

        # A command reaching both is answered once.
        new = tg.send(PRIVATE, ALICE, "/new", deliver=False)
        await to_both({"update_id": 103, "message": new})
        await tg.wait_text(PRIVATE, "New conversation")
        await asyncio.sleep(0.5)
        texts = [call.params["text"] for call in tg.sent("sendMessage", PRIVATE)]
        assert len([text for text in texts if "New conversation" in text]) == 1
    finally:
        await world.stop_all()
