"""The web server over HTTP, without a browser: refusals, mask checks, headers, downloads."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from PIL import Image

from adapters.web.server import CSP, SUBMITS_AT_ONCE, start
from adapters.web.telegram_webapp import sign_init_data
from bot.app.config import load_settings
from bot.errors import InputError, StartupError
from bot.messages import render_error
from tests.web.fakes import BOT_TOKEN, OTHER_CHAT, USER, FakeEditor, Site, branched_chain, running, token

WIDTH, HEIGHT = 320, 200


def mask_png(
    width: int = WIDTH, height: int = HEIGHT, hole: tuple[int, int, int, int] | None = (10, 10, 60, 60)
) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    if hole is not None:
        image.paste((0, 0, 0, 0), hole)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def init_data(user_id: int, *, auth_date: int | None = None, bot_token: str = BOT_TOKEN) -> str:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Ada"}),
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
    }
    fields["hash"] = sign_init_data(fields, bot_token)
    from urllib.parse import urlencode  # noqa: PLC0415

    return urlencode(fields)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    editor = FakeEditor()
    editor.add_picture(7, WIDTH, HEIGHT)
    editor.add_picture(8, WIDTH, HEIGHT, chat_id=OTHER_CHAT)
    async with running(editor) as running_site:
        yield running_site


async def post(site: Site, token: str, **fields: str | bytes) -> tuple[int, dict[str, object]]:
    """A submit as the Mini App makes it: the link's token in the URL, the link's user's
    initData in the form unless given."""
    fields.setdefault("initData", init_data(int(USER)))
    form = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, bytes):
            form.add_field(name, value, filename="mask.png", content_type="image/png")
        else:
            form.add_field(name, value)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{site.base}/paint", params={"t": token}, data=form) as response,
    ):
        return response.status, await response.json()


async def get(site: Site, path: str) -> tuple[int, str, aiohttp.typedefs.LooseHeaders, bytes]:
    async with aiohttp.ClientSession() as session, session.get(f"{site.base}{path}") as response:
        body = await response.read()
        return response.status, response.content_type, response.headers, body


async def test_a_good_submit_reaches_the_editor_once_with_the_claim(site: Site) -> None:
    status, answer = await post(
        site, token=token("paint"), text="a red scarf", mask=mask_png(), submission="abcdefgh12"
    )
    assert status == 200 and answer["ok"] is True
    [sent] = site.editor.submissions
    assert (sent.claim.turn_id, sent.claim.chat_id, sent.claim.user_id) == (7, "-1001", USER)
    assert sent.text == "a red scarf" and sent.submission_id == "abcdefgh12"
    assert Image.open(io.BytesIO(sent.mask)).size == (WIDTH, HEIGHT)


@pytest.mark.parametrize(
    ("make", "status", "title"),
    [
        (lambda: token("paint")[:-3] + "AAA", 403, "not valid"),
        (lambda: token("paint", now=time.time() - 25 * 3600), 410, "expired"),
        (lambda: token("versions"), 403, "not valid"),
        (lambda: "garbage", 403, "not valid"),
        (lambda: token("paint", 8), 403, "not valid"),  # a picture of another chat
    ],
    ids=["tampered", "expired", "other-purpose", "garbage", "other-chat"],
)
async def test_refused_tokens_get_a_clear_page_and_make_no_turn(
    site: Site, make: Callable[[], str], status: int, title: str
) -> None:
    bad = make()
    code, kind, _, body = await get(site, f"/paint?t={bad}")
    assert (code, kind) == (status, "text/html")
    assert title in body.decode()
    assert "Nothing was sent to the chat." in body.decode()
    assert (await get(site, f"/picture?t={bad}"))[0] == status
    code, answer = await post(site, bad, text="x", mask=mask_png())
    assert code == status and title in str(answer["error"])
    assert site.editor.submissions == []


async def test_a_telegram_link_without_init_data_is_refused(site: Site) -> None:
    """Telegram's links open as Mini Apps only: a bare bearer token makes no turn."""
    code, answer = await post(site, token("paint"), text="x", mask=mask_png(), initData="")
    assert code == 403 and answer["error"] and site.editor.submissions == []


async def test_telegram_init_data_must_name_the_tokens_user(site: Site) -> None:
    code, answer = await post(site, token("paint"), text="x", mask=mask_png(), initData=init_data(43))
    assert code == 403 and "someone else" in str(answer["error"])
    code, answer = await post(
        site, token=token("paint"), text="x", mask=mask_png(), initData=init_data(42, bot_token="1:other")
    )
    assert code == 403 and "not valid" in str(answer["error"])
    stale = init_data(42, auth_date=int(time.time()) - 2 * 86400)
    code, answer = await post(site, token("paint"), text="x", mask=mask_png(), initData=stale)
    assert code == 403
    assert site.editor.submissions == []
    code, answer = await post(site, token("paint"), text="x", mask=mask_png(), initData=init_data(42))
    assert code == 200 and len(site.editor.submissions) == 1


async def test_masks_are_checked_before_the_editor_sees_them(site: Site) -> None:
    cases = [
        (mask_png(WIDTH // 2, HEIGHT // 2), "The mask is 160x100 but the image is 320x200"),
        (mask_png(hole=None), "no fully transparent area"),
        (mask_png(hole=(0, 0, WIDTH, HEIGHT)), "covers the whole picture"),
        (b"not a png at all", "isn't a picture i can read"),
    ]
    for mask, message in cases:
        code, answer = await post(site, token("paint"), text="x", mask=mask)
        assert code == 422, answer
        assert message.lower() in str(answer["error"]).lower(), answer
    code, answer = await post(site, token("paint"), text="   ", mask=mask_png())
    assert code == 400 and "what should change" in str(answer["error"])
    code, answer = await post(site, token("paint"), text="x")
    assert code == 400
    assert site.editor.submissions == []


async def test_the_editors_refusal_is_shown_in_the_users_language(site: Site) -> None:
    site.editor.refuse_with = InputError("too long", key="prompt_too_long", length=40000, limit=32000)
    code, answer = await post(site, token("paint"), text="x", mask=mask_png())
    assert code == 422 and "32" in str(answer["error"])
    english = str(answer["error"])
    code, answer = await post(site, token("paint", locale="de"), text="x", mask=mask_png())
    assert code == 422 and str(answer["error"]) != english
    assert str(answer["error"]) == render_error(site.editor.refuse_with, "de")
    assert site.editor.submissions == []


async def test_a_body_over_the_limit_is_refused(site: Site) -> None:
    code, answer = await post(site, token("paint"), text="x", mask=b"\0" * (9 * 1024 * 1024))
    assert code == 413 and "too large" in str(answer["error"])
    assert site.editor.submissions == []


async def test_pages_carry_the_security_headers(site: Site) -> None:
    code, kind, headers, body = await get(site, f"/paint?t={token('paint')}")
    assert code == 200 and kind == "text/html"
    assert headers["Content-Security-Policy"] == CSP  # type: ignore[index]
    assert (
        "frame-ancestors 'self' https://web.telegram.org" in CSP
        and "script-src 'self' https://telegram.org" in CSP
    )
    assert headers["Referrer-Policy"] == "no-referrer"  # type: ignore[index]
    assert headers["Cache-Control"] == "no-store"  # type: ignore[index]
    code, kind, headers, body = await get(site, f"/picture?t={token('paint')}")
    assert (code, kind) == (200, "image/png") and body == site.editor.pictures[7].data
    assert headers["X-Frame-Options"] == "DENY"  # type: ignore[index]
    assert (await get(site, "/static/painter.js"))[0] == 200
    assert (await get(site, "/static/../server.py"))[0] in (403, 404)


async def test_originals_only_of_the_tokens_chat(site: Site) -> None:
    branched_chain(site.editor)
    versions = token("versions", 2)
    code, kind, headers, body = await get(site, f"/original?t={versions}&turn=4")
    assert code == 200 and body == site.editor.originals[("telegram", "-1001", 4)].data
    assert headers["Content-Disposition"] == 'attachment; filename="redraw-4.png"'  # type: ignore[index]
    assert (await get(site, f"/original?t={versions}&turn=99"))[0] == 404
    assert (await get(site, f"/original?t={versions}&turn=x"))[0] == 404
    assert (await get(site, f"/original?t={token('paint', 2)}&turn=4"))[0] == 403
    code, kind, _, body = await get(site, f"/thumb?t={versions}&turn=4")
    assert (code, kind) == (200, "image/jpeg") and Image.open(io.BytesIO(body)).size == (256, 256)


async def test_start_serves_and_says_in_one_line_what_stops_it() -> None:
    settings = load_settings(telegram_bot_token=BOT_TOKEN, redraw_public_url="http://localhost:8090")
    server = await start(settings, FakeEditor(), host="127.0.0.1", port=0)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{server.port}/paint") as response,
        ):
            assert response.status == 403
        with pytest.raises(StartupError, match=r"can't listen on 127\.0\.0\.1:\d+ \(REDRAW_WEB_PORT\)"):
            await start(settings, FakeEditor(), host="127.0.0.1", port=server.port)
    finally:
        await server.close()
    with pytest.raises(StartupError, match="REDRAW_WEB_SECRET or a platform token"):
        await start(load_settings(redraw_public_url="http://localhost:8090"), FakeEditor(), port=0)


async def _start_post(
    site: Site, token: str, length: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A post that announces ``length`` bytes of body and sends only its first few."""
    reader, writer = await asyncio.open_connection("127.0.0.1", site.server.port)
    writer.write(
        f"POST /paint?t={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {length}\r\n\r\n--x\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def _status(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), 5)
    return int(line.split()[1])


async def test_a_strangers_post_is_refused_before_its_body_is_read(site: Site) -> None:
    # 8 MB announced, a few bytes sent: the refusal comes at once, not after the body.
    reader, writer = await _start_post(site, "garbage", 8 * 1024 * 1024)
    try:
        assert await _status(reader) == 403
    finally:
        writer.close()
    assert site.editor.submissions == []


async def test_slow_bodies_hold_at_most_a_few_readers(site: Site) -> None:
    senders = [str(100 + n) for n in range(SUBMITS_AT_ONCE)]
    slow = [await _start_post(site, token("paint", user=user), 1024 * 1024) for user in senders]
    try:
        await asyncio.sleep(0.2)  # the server has taken them in
        code, answer = await post(site, token("paint"), text="x", mask=mask_png())
        assert code == 503 and "busy" in str(answer["error"])
    finally:
        for _, writer in slow:
            writer.close()
    await asyncio.sleep(0.2)  # their readers are given back when the connections drop
    code, answer = await post(site, token("paint"), text="x", mask=mask_png())
    assert code == 200 and len(site.editor.submissions) == 1


async def test_one_users_slow_bodies_leave_the_readers_to_others(site: Site) -> None:
    """One link's holder can't fill every reader (the painter busy for everyone): their
    second body while the first is still coming is refused at once."""
    slow = [await _start_post(site, token("paint"), 1024 * 1024) for _ in range(SUBMITS_AT_ONCE)]
    try:
        for reader, _ in slow[1:]:
            assert await _status(reader) == 429
        code, answer = await post(
            site, token("paint", user="43"), text="x", mask=mask_png(), initData=init_data(43)
        )
        assert code == 200, answer
        assert [sent.claim.user_id for sent in site.editor.submissions] == ["43"]
    finally:
        for _, writer in slow:
            writer.close()
    await asyncio.sleep(0.2)  # the first one's reader is given back when its connection drops
    code, answer = await post(site, token("paint"), text="x", mask=mask_png())
    assert code == 200, answer
