"""The painter and versions pages reached from Telegram (REDRAW_PUBLIC_URL set), end to end
over the real bot, the fake Bot API and the fake provider: the grid's 🖌 in a private chat
is a Mini App opened in a real Chromium; in groups it goes by the private chat (a t.me
deep link, a membership check, a web_app button bound to the group); 🌳 All versions."""

from __future__ import annotations

import io
import json
import operator
import re
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from playwright.async_api import Request, async_playwright

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import BOT_USERNAME, TOKEN, Chat, FakeTelegram
from tests.helpers import colour_name
from tests.region_checks import mask_of
from tests.telegram.conftest import ALICE, BOB, GROUP, PRIVATE, TelegramWorld
from tests.telegram.test_regions import open_grid
from tests.web import chat
from tests.web.browser import chromium_or_skip

BOB_PRIVATE = Chat(BOB.id, "private", "Bob")


@pytest.fixture
async def pages(idle_world: TelegramWorld) -> TelegramWorld:
    await idle_world.start(**chat.serve_on_localhost())
    return idle_world


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for item in row:
            if item["text"].startswith(label):
                return dict(item)
    raise AssertionError(f"no {label!r} button: {message.get('reply_markup')}")


async def private_answer(tg: FakeTelegram, chat_: Chat, after: int, text: str) -> dict[str, Any]:
    return await tg.wait_message(chat_, lambda m: text in (m.get("text") or ""), after=after, what=text)


async def test_private_chat_painter_in_a_real_browser_makes_one_region_edit(
    pages: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    world = pages
    tg.send(PRIVATE, ALICE, "a blue house")
    picture = await tg.wait_photo(PRIVATE)
    grid = await open_grid(tg, PRIVATE, picture)
    assert tg.buttons(grid)[-1] == "🖌 Paint the area"
    url = button(grid, "🖌")["web_app"]["url"]
    claim = chat.claim_of(world.settings, url)
    assert (claim.chat_id, claim.user_id) == (str(PRIVATE.id), str(ALICE.id))
    # A toggle keeps the painter's button (bound to the same user).
    tg.press(grid, "A1", ALICE)
    await tg.wait_for(
        lambda: "A1" in (tg.messages[(PRIVATE.id, grid["message_id"])]["caption"]).rsplit(":", 1)[-1]
    )
    assert tg.buttons(grid)[-1] == "🖌 Paint the area"

    signed = chat.init_data(ALICE.id, TOKEN)
    stub = (
        "window.Telegram = {WebApp: {initData: " + json.dumps(signed)
        + ", ready() {}, expand() {}, close() { window.tgClosed = true; }}};"
    )  # fmt: skip
    posted: list[Request] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_or_skip())
        try:
            context = await browser.new_context(viewport={"width": 1000, "height": 860})

            async def telegram_script(route: Any) -> None:
                await route.fulfill(status=200, content_type="application/javascript", body=stub)

            await context.route("https://telegram.org/**", telegram_script)
            page = await context.new_page()
            page.on("request", lambda request: posted.append(request) if request.method == "POST" else None)
            await page.goto(f"{url}#tgWebAppData={quote(signed)}&tgWebAppVersion=8.0")
            await page.wait_for_selector("#painter[data-ready='1']")
            box = await page.locator("#mask").bounding_box()
            assert box is not None
            # A horizontal stroke across the upper left quarter.
            y = box["y"] + 0.25 * box["height"]
            await page.mouse.move(box["x"] + 0.1 * box["width"], y)
            await page.mouse.down()
            for step in range(1, 11):
                await page.mouse.move(box["x"] + (0.1 + 0.03 * step) * box["width"], y)
            await page.mouse.up()
            await page.fill("#text", "make it red")
            await page.click("#send")
            await page.wait_for_function("() => window.tgClosed === true")
            request = next(item for item in posted if "/paint?t=" in item.url)
            body, content_type = request.post_data_buffer, await request.header_value("content-type")
        finally:
            await browser.close()
    edited = await tg.wait_photo(PRIVATE, after=grid["message_id"])
    assert edited["reply_to_message"]["message_id"] == picture["message_id"]
    assert colour_name(tg.photo_bytes(edited)) == "red"
    assert len(world.provider_calls()) == 2
    alpha = Image.open(io.BytesIO(mask_of(world.provider_calls()[-1]))).convert("RGBA").getchannel("A")
    assert alpha.size == (1024, 1024)
    assert alpha.getpixel((300, 256)) == 0  # painted: change
    assert alpha.getpixel((900, 900)) == 255  # far away: keep

    # The same submission again (a browser that retries): one turn.
    assert body is not None
    status, _ = await chat.post_raw(url, body, content_type or "")
    assert status == 200
    await tg.settle()
    assert len(world.provider_calls()) == 2
    assert len([m for m in tg.bot_photos(PRIVATE) if m["message_id"] > grid["message_id"]]) == 1


async def test_groups_go_by_the_private_chat_and_check_membership(
    pages: TelegramWorld, tg: FakeTelegram
) -> None:
    world = pages
    tg.send(GROUP, ALICE, "@redraw_test_bot a blue boat")
    picture = await tg.wait_photo(GROUP)
    grid = await open_grid(tg, GROUP, picture)
    paint = button(grid, "🖌")
    # No bearer link in the group: a callback button.
    assert "web_app" not in paint and "url" not in paint
    turn = int(paint["callback_data"].split(":")[1])
    query = tg.press(grid, "🖌", ALICE)
    await tg.wait_for(lambda: query in tg.answered, what="the answer")
    link = tg.answered[query]["url"]
    found = re.fullmatch(rf"https://t\.me/{BOT_USERNAME}\?start=(paint_{turn}_[A-Za-z0-9_-]{{12}})", link)
    assert found, link

    # The deep link: /start paint_<turn>_<mac> in Alice's private chat.
    start = tg.send(PRIVATE, ALICE, f"/start {found[1]}")
    offer = await private_answer(tg, PRIVATE, start["message_id"], "Paint over what should change")
    url = button(offer, "🖌")["web_app"]["url"]
    claim = chat.claim_of(world.settings, url)
    assert (claim.chat_id, claim.user_id, claim.turn_id) == (str(GROUP.id), str(ALICE.id), turn)

    # Bob left the group: refused, in his language, no link.
    tg.left[GROUP.id] = {BOB.id}
    start = tg.send(BOB_PRIVATE, BOB, f"/start paint_{turn}")
    refusal = await private_answer(tg, BOB_PRIVATE, start["message_id"], "not in the chat")
    assert "reply_markup" not in refusal
    # Forged parameters: a turn that isn't there, or not a number.
    for forged in (f"paint_{turn + 999}", "paint_1x", "versions_0"):
        start = tg.send(PRIVATE, ALICE, f"/start {forged}")
        refusal = await private_answer(tg, PRIVATE, start["message_id"], "can't find that picture")
        assert "reply_markup" not in refusal

    # Alice's link used by Bob (his own Telegram initData) is refused; by Alice, it lands
    # in the group, replying to the picture.
    mask = chat.mask_png(1024, 1024, (0, 0, 512, 512))
    status, answer = await chat.submit(
        url, "make it red", mask, submission="bobs-try-0001", init=chat.init_data(BOB.id, TOKEN)
    )
    assert status == 403 and "someone else's" in answer["error"]
    status, answer = await chat.submit(
        url, "make it red", mask, submission="alices-0001", init=chat.init_data(ALICE.id, TOKEN)
    )
    assert status == 200, answer
    edited = await tg.wait_photo(GROUP, after=grid["message_id"])
    assert edited["reply_to_message"]["message_id"] == picture["message_id"]
    assert colour_name(tg.photo_bytes(edited)) == "red"
    assert len(world.provider_calls()) == 2


async def test_all_versions_link_private_and_group(pages: TelegramWorld, tg: FakeTelegram) -> None:
    world = pages
    tg.send(PRIVATE, ALICE, "a blue fox")
    first = await tg.wait_photo(PRIVATE)
    tg.press(first, "🌳", ALICE)
    # The button rides on the versions sheet: one message, not a second one for the link.
    sheet = await tg.wait_photo(PRIVATE, after=first["message_id"])
    url = button(sheet, "🌳 All versions")["url"]
    claim = chat.claim_of(world.settings, url, "versions")
    assert (claim.chat_id, claim.user_id) == (str(PRIVATE.id), str(ALICE.id))
    status, page = await chat.get(url)
    assert status == 200 and "a blue fox" in page
    await tg.settle()
    assert [m["message_id"] for m in tg.bot_messages(PRIVATE)] == [first["message_id"], sheet["message_id"]]
    # /history too.
    message = tg.send(PRIVATE, ALICE, "/history", reply_to=first)
    sheet = await tg.wait_photo(PRIVATE, after=message["message_id"])
    assert "url" in button(sheet, "🌳 All versions")

    # In a group the button goes by the private chat (the sheet is every member's).
    tg.send(GROUP, ALICE, "@redraw_test_bot a green fox")
    picture = await tg.wait_photo(GROUP)
    calls = len(tg.sent(chat=GROUP))
    tg.press(picture, "🌳", ALICE)
    offer = await tg.wait_photo(GROUP, after=picture["message_id"])
    item = button(offer, "🌳 All versions")
    assert "url" not in item
    await tg.settle()
    assert len(tg.sent(chat=GROUP)) == calls + 1  # the sheet alone: one of the group's 20 a minute
    query = tg.press(offer, "🌳 All versions", BOB)
    await tg.wait_for(lambda: query in tg.answered, what="the answer")
    turn = int(item["callback_data"].split(":")[1])
    link = tg.answered[query]["url"]
    found = re.fullmatch(rf"https://t\.me/{BOT_USERNAME}\?start=(versions_{turn}_[A-Za-z0-9_-]{{12}})", link)
    assert found, link
    start = tg.send(BOB_PRIVATE, BOB, f"/start {found[1]}")
    answer = await private_answer(tg, BOB_PRIVATE, start["message_id"], "Every version")
    claim = chat.claim_of(world.settings, button(answer, "🌳")["url"], "versions")
    assert (claim.chat_id, claim.user_id) == (str(GROUP.id), str(BOB.id))
    tg.kicked[GROUP.id] = {BOB.id}
    start = tg.send(BOB_PRIVATE, BOB, f"/start {found[1]}")
    await private_answer(tg, BOB_PRIVATE, start["message_id"], "not in the chat")


async def test_without_a_public_url_nothing_changes(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(GROUP, ALICE, "@redraw_test_bot a blue boat")
    picture = await tg.wait_photo(GROUP)
    grid = await open_grid(tg, GROUP, picture)
    assert not any(label.startswith("🖌") for label in tg.buttons(grid))
    start = tg.send(PRIVATE, ALICE, "/start paint_1")
    await tg.settle()
    assert not any(
        "Paint over" in (m.get("text") or "")
        for m in tg.bot_messages(PRIVATE)
        if m["message_id"] > start["message_id"]
    )


async def test_an_inline_picture_is_painted_through_the_pressers_private_chat(
    pages: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    """An inline message has no chat to show a grid in: ✏️ is the painter, reached by the
    presser's private chat with a start parameter only that presser's /start can use."""
    world = pages
    tg.chats[PRIVATE.id] = PRIVATE
    tg.chats[BOB_PRIVATE.id] = BOB_PRIVATE
    query = tg.inline_query(ALICE, "a blue kite")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    imid = tg.choose_inline(query, answer["results"][0]["id"])
    await tg.wait_for(lambda: "photo" in tg.inline_messages[imid], what="the inline picture")
    before = tg.inline_messages[imid]["photo"][-1]["file_id"]
    assert tg.buttons_of(tg.inline_messages[imid])[-2:] == ["✏️ Edit a region", "🌳 Versions"]

    pressed = tg.press_inline(imid, "✏️", BOB)
    await tg.wait_for(lambda: pressed in tg.answered, what="the answer to ✏️")
    link = tg.answered[pressed]["url"]
    found = re.fullmatch(rf"https://t\.me/{BOT_USERNAME}\?start=(paint_[0-9]+_[A-Za-z0-9_-]{{12}})", link)
    assert found, link
    # Bob's parameter in Alice's hands: no page (an inline message has no members to ask about).
    start = tg.send(PRIVATE, ALICE, f"/start {found[1]}")
    refusal = await private_answer(tg, PRIVATE, start["message_id"], "not in the chat")
    assert "reply_markup" not in refusal
    # Bob's own: the painter, bound to him and to the inline message's chat.
    start = tg.send(BOB_PRIVATE, BOB, f"/start {found[1]}")
    offer = await private_answer(tg, BOB_PRIVATE, start["message_id"], "Paint over what should change")
    url = button(offer, "🖌")["web_app"]["url"]
    claim = chat.claim_of(world.settings, url)
    assert claim.user_id == str(BOB.id) and claim.chat_id.startswith("inline:")

    mask = chat.mask_png(1024, 1024, (0, 0, 512, 512))
    status, _ = await chat.submit(
        url, "make it red", mask, submission="s1", init=chat.init_data(BOB.id, TOKEN)
    )
    assert status == 200
    await tg.wait_for(
        lambda: tg.inline_messages[imid]["photo"][-1]["file_id"] != before, what="the painted picture"
    )
    assert colour_name(tg.file_bytes(tg.inline_messages[imid]["photo"][-1]["file_id"])) == "red"
    alpha = Image.open(io.BytesIO(mask_of(world.provider_calls()[-1]))).convert("RGBA").getchannel("A")
    assert alpha.getpixel((100, 100)) == 0 and alpha.getpixel((900, 900)) == 255

    # The same link again, once the inline message shows the red picture: the mask was
    # painted on the first picture, so the new turn continues that one, not the red one.
    red = tg.inline_messages[imid]["photo"][-1]["file_id"]
    status, _ = await chat.submit(
        url, "make it green", mask, submission="s2", init=chat.init_data(BOB.id, TOKEN)
    )
    assert status == 200
    await tg.wait_for(lambda: tg.inline_messages[imid]["photo"][-1]["file_id"] != red, what="the second edit")
    store = world.runtimes[0].engine.store
    painted = [await store.get_turn(number) for number in range(claim.turn_id + 1, claim.turn_id + 3)]
    assert [turn.parent_id for turn in painted if turn is not None] == [claim.turn_id, claim.turn_id]

    # What the page can refuse is said on the page, and nothing reaches the chat.
    calls, caption = len(world.provider_calls()), tg.inline_messages[imid]["caption"]
    status, answer = await chat.submit(
        url, "x" * 40_000, mask, submission="s3", init=chat.init_data(BOB.id, TOKEN)
    )
    assert status == 422 and "40000" in answer["error"]
    await tg.settle()
    assert len(world.provider_calls()) == calls and tg.inline_messages[imid]["caption"] == caption


async def test_a_page_button_naming_another_chats_picture_gives_no_link(
    pages: TelegramWorld, tg: FakeTelegram, fake: FakeOpenAI
) -> None:
    """Bob forges 🌳's data (wv:<turn>) for a picture of a chat he isn't in onto his own
    inline message: no start parameter is signed for him."""
    tg.chats[PRIVATE.id] = PRIVATE
    tg.chats[BOB_PRIVATE.id] = BOB_PRIVATE
    tg.send(PRIVATE, ALICE, "a secret red fox")
    await tg.wait_photo(PRIVATE)
    query = tg.inline_query(BOB, "a blue kite")
    answer = await tg.wait_for(lambda: tg.inline_answers.get(query), what="the inline answer")
    mine = tg.choose_inline(query, answer["results"][0]["id"])
    await tg.wait_for(lambda: "photo" in tg.inline_messages[mine], what="Bob's picture")
    for data in ("wv:1", "wp:1"):
        pressed = tg.press_inline(mine, "", BOB, data=data)
        await tg.wait_for(partial(operator.contains, tg.answered, pressed), what="the answer")
        assert "url" not in tg.answered[pressed]
        assert "another chat" in (tg.answered[pressed].get("text") or "")


def test_a_deep_link_names_the_picture_and_binds_its_index() -> None:
    from adapters.telegram_adapter.keyboards import press_data  # noqa: PLC0415
    from adapters.telegram_adapter.painter import _PRESS, _START, start_mac, start_parameter  # noqa: PLC0415

    key = b"k" * 32
    assert press_data("paint", 42) == "wp:42" and press_data("paint", 42, 2) == "wp:42.2"
    assert _PRESS.fullmatch("wp:42.2") is not None and _PRESS.fullmatch("wp:42.0") is None
    first, third = start_parameter("paint", 42, 7, key), start_parameter("paint", 42, 7, key, 2)
    assert len(third) <= 64 and third.startswith("paint_42x2_")
    parsed = _START.fullmatch(third)
    assert parsed is not None and parsed.groups()[1:] == ("42", "2", start_mac("paint", 42, 7, key, 2))
    # The MAC binds the index: another picture of the turn needs its own.
    assert first.rsplit("_", 1)[1] != third.rsplit("_", 1)[1]
