"""Hostile inputs over the real PTB Application: what is refused from Telegram's own metadata
(nothing downloaded, nothing asked of the provider), invisible prompts, absurd sizes."""

from __future__ import annotations

from tests.fakes.telegram_server import FakeTelegram
from tests.helpers import png
from tests.telegram.conftest import ALICE, GROUP, LI, PRIVATE, TelegramWorld

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\ufe0f\U000e0100 \u3164"


def nothing_fetched(world: TelegramWorld, tg: FakeTelegram) -> None:
    assert tg.downloads == []
    assert tg.sent("getFile") == []
    assert world.provider_calls() == []


async def test_an_album_of_17_is_refused_before_any_download(world: TelegramWorld, tg: FakeTelegram) -> None:
    photos = [png("blue", (64 + index, 64)) for index in range(17)]
    album = tg.send_album(PRIVATE, ALICE, photos, "combine these")
    answer = await tg.wait_text(PRIVATE, "That is 17 images; I can use at most 16")
    assert answer["reply_to_message"]["message_id"] == album[0]["message_id"]
    await tg.settle()
    nothing_fetched(world, tg)


async def test_the_refusal_is_in_the_users_language(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send_album(PRIVATE, LI, [png("green", (64, 64 + index)) for index in range(17)], "合成")
    await tg.wait_text(PRIVATE, "一共 17 张图片，一次最多只能用 16 张")
    nothing_fetched(world, tg)


async def test_an_unreadable_image_type_is_refused_unfetched(world: TelegramWorld, tg: FakeTelegram) -> None:
    raw = b"II*\x00\x10\x00\x00\x00CR" + bytes(2048)
    tg.send(PRIVATE, ALICE, "make it pop", document=(raw, "IMG_0001.CR2", "image/x-canon-cr2"))
    await tg.wait_text(PRIVATE, "Image 1 is of type image/x-canon-cr2, which I can't read")
    await tg.settle()
    nothing_fetched(world, tg)


async def test_a_file_over_the_input_limit_is_refused_unfetched(
    world: TelegramWorld, tg: FakeTelegram
) -> None:
    # 51 MB: over what the image API takes (50 MB). A local Bot API server would serve it.
    huge = png("red", (64, 64)) + bytes(51 * 2**20)
    tg.send(PRIVATE, ALICE, "make it blue", document=(huge, "huge.png", "image/png"))
    await tg.wait_text(PRIVATE, "Image 1 is 51.0 MB; the limit is 50 MB")
    await tg.settle()
    nothing_fetched(world, tg)


async def test_a_good_album_is_still_fetched(world: TelegramWorld, tg: FakeTelegram) -> None:
    """The control for the tests above: the same path downloads when nothing is wrong."""
    tg.send_album(PRIVATE, ALICE, [png("blue", (64, 64)), png("green", (64, 64))], "combine these")
    await tg.wait_photo(PRIVATE)
    assert len(tg.downloads) == 2 and len(world.provider_calls()) == 1


async def test_an_invisible_prompt_is_an_empty_one(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, INVISIBLE)
    await tg.wait_text(PRIVATE, "Tell me what to draw")
    tg.send(GROUP, ALICE, f"/draw {INVISIBLE}")
    await tg.wait_text(GROUP, "Tell me what to draw")
    # A photo with an invisible caption is a bare photo: asked about, not fetched.
    tg.send(PRIVATE, ALICE, INVISIBLE, photo=png("blue", (64, 64)))
    await tg.wait_text(PRIVATE, "What should I do with it")
    await tg.settle()
    nothing_fetched(world, tg)


async def test_an_absurd_size_gets_the_size_message(world: TelegramWorld, tg: FakeTelegram) -> None:
    tg.send(PRIVATE, ALICE, "/settings size ²x²")
    await tg.wait_text(PRIVATE, "“²x²” is not a size")
    tg.send(PRIVATE, ALICE, "/settings size " + "9" * 3000 + "x1024")
    long_side = await tg.wait_text(PRIVATE, "The longest side may be at most 3840 pixels")
    assert "Try 3840x1280" in long_side["text"] and len(long_side["text"]) < 200
    tg.send(PRIVATE, ALICE, "/settings size 5000x5000")
    await tg.wait_text(PRIVATE, "Try 2880x2880")
    await tg.settle()
    assert not [m for m in tg.bot_messages(PRIVATE) if "Something went wrong" in (m.get("text") or "")]
    tg.send(PRIVATE, ALICE, "/settings")
    await tg.wait_text(PRIVATE, "size auto")
