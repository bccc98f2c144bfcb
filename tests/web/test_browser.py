"""The painter and the versions page in a real Chromium: strokes with a mouse and a finger,
undo, invert, clear, the mask that reaches the engine, refused links, the version tree.
Screenshots of both pages land in docs/ for the README."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from adapters.web.telegram_webapp import sign_init_data
from tests.web.browser import DOCS, chromium_or_skip, page_mask
from tests.web.fakes import BOT_TOKEN, USER, FakeEditor, Site, branched_chain, running

pytestmark = pytest.mark.asyncio(loop_scope="module")

WIDTH, HEIGHT = 768, 512
Point = tuple[float, float]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def site() -> AsyncIterator[Site]:
    editor = FakeEditor()
    editor.add_picture(7, WIDTH, HEIGHT)
    async with running(editor) as running_site:
        yield running_site


@pytest_asyncio.fixture(loop_scope="module")
async def desktop(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1000, "height": 860})
    yield context
    await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        viewport={"width": 390, "height": 800}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    yield context
    await context.close()


async def open_painter(context: BrowserContext, url: str) -> Page:
    """The painter as Telegram opens it: initData of the link's user in the fragment."""
    page = await context.new_page()
    if "#" not in url:
        url = f"{url}#tgWebAppData={quote(init_data(int(USER)))}&tgWebAppVersion=8.0"
    await page.goto(url)
    await page.wait_for_selector("#painter[data-ready='1']")
    return page


async def to_image(page: Page, fx: float, fy: float) -> tuple[Point, Point]:
    """The screen point at fraction (fx, fy) of the canvas, and the same point in the picture."""
    box = await page.locator("#mask").bounding_box()
    assert box is not None
    return (box["x"] + fx * box["width"], box["y"] + fy * box["height"]), (fx * WIDTH, fy * HEIGHT)


async def mouse_stroke(
    page: Page, start: tuple[float, float], end: tuple[float, float], steps: int = 12
) -> None:
    (x0, y0), _ = await to_image(page, *start)
    (x1, y1), _ = await to_image(page, *end)
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    await page.mouse.move(x1, y1, steps=steps)
    await page.mouse.up()


async def touch_stroke(
    page: Page, start: tuple[float, float], end: tuple[float, float], steps: int = 12
) -> None:
    """A finger drag, as the touchscreen reports it (Chromium makes pointer events of it)."""
    cdp = await page.context.new_cdp_session(page)
    (x0, y0), _ = await to_image(page, *start)
    (x1, y1), _ = await to_image(page, *end)
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
    for step in range(1, steps + 1):
        x, y = x0 + (x1 - x0) * step / steps, y0 + (y1 - y0) * step / steps
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    await cdp.detach()


def alpha(mask: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(mask))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    return image.convert("RGBA").getchannel("A")


def alpha_at(mask: Image.Image, fx: float, fy: float) -> int:
    value = mask.getpixel((min(int(fx * WIDTH), WIDTH - 1), min(int(fy * HEIGHT), HEIGHT - 1)))
    assert isinstance(value, int)
    return value


def transparent_share(mask: Image.Image) -> float:
    histogram = mask.histogram()
    return histogram[0] / (WIDTH * HEIGHT)


async def submit(page: Page, text: str) -> str:
    await page.fill("#text", text)
    await page.click("#send")
    await page.wait_for_function("() => !document.querySelector('#send').disabled")
    await page.wait_for_function("() => document.querySelector('#status').textContent.trim() !== 'Sending…'")
    return (await page.text_content("#status")) or ""


async def test_mouse_strokes_become_the_transparent_area_of_the_mask(
    site: Site, desktop: BrowserContext
) -> None:
    page = await open_painter(desktop, site.link("paint"))
    await mouse_stroke(page, (0.2, 0.5), (0.8, 0.5))
    await mouse_stroke(page, (0.5, 0.15), (0.5, 0.3))
    await page.fill("#text", "a river of lava")
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "painter.png"), full_page=True)
    status = await submit(page, "a river of lava")
    assert "Sent" in status
    [sent] = site.editor.submissions
    assert sent.text == "a river of lava" and sent.claim.turn_id == 7 and sent.claim.user_id == "42"
    mask = alpha(sent.mask)
    # Along both strokes: transparent (change); far from them: opaque (keep).
    for fx in (0.22, 0.35, 0.5, 0.65, 0.78):
        assert alpha_at(mask, fx, 0.5) == 0, fx
    assert alpha_at(mask, 0.5, 0.2) == 0
    for fx, fy in ((0.05, 0.05), (0.95, 0.95), (0.1, 0.9), (0.9, 0.1), (0.2, 0.2)):
        assert alpha_at(mask, fx, fy) == 255, (fx, fy)
    assert 0.03 < transparent_share(mask) < 0.3


async def test_finger_strokes_paint_too(site: Site, phone: BrowserContext) -> None:
    page = await open_painter(phone, site.link("paint"))
    await touch_stroke(page, (0.15, 0.3), (0.85, 0.7))
    assert await page.get_attribute("#painter", "data-ops") == "1"
    # A tap is a dot.
    (x, y), _ = await to_image(page, 0.8, 0.2)
    await page.touchscreen.tap(x, y)
    status = await submit(page, "a field of sunflowers")
    assert "Sent" in status, status
    [sent] = site.editor.submissions
    mask = alpha(sent.mask)
    for f in (0.2, 0.35, 0.5, 0.65, 0.8):
        assert alpha_at(mask, f, 0.3 + (f - 0.15) * 0.4 / 0.7) == 0, f
    assert alpha_at(mask, 0.8, 0.2) == 0
    assert (
        alpha_at(mask, 0.1, 0.9) == 255
        and alpha_at(mask, 0.5, 0.1) == 255
        and alpha_at(mask, 0.9, 0.9) == 255
    )


async def test_eraser_undo_invert_and_clear(site: Site, desktop: BrowserContext) -> None:
    page = await open_painter(desktop, site.link("paint"))
    await mouse_stroke(page, (0.1, 0.25), (0.9, 0.25))
    await mouse_stroke(page, (0.1, 0.75), (0.9, 0.75))
    mask = alpha(await page_mask(page))
    assert alpha_at(mask, 0.5, 0.25) == 0 and alpha_at(mask, 0.5, 0.75) == 0

    await page.click("#undo")
    mask = alpha(await page_mask(page))
    assert alpha_at(mask, 0.5, 0.25) == 0 and alpha_at(mask, 0.5, 0.75) == 255

    await page.click("#eraser")
    await mouse_stroke(page, (0.45, 0.1), (0.45, 0.4))
    mask = alpha(await page_mask(page))
    assert (
        alpha_at(mask, 0.45, 0.25) == 255
        and alpha_at(mask, 0.2, 0.25) == 0
        and alpha_at(mask, 0.7, 0.25) == 0
    )

    await page.click("#invert")
    mask = alpha(await page_mask(page))
    assert (
        alpha_at(mask, 0.2, 0.25) == 255 and alpha_at(mask, 0.45, 0.25) == 0 and alpha_at(mask, 0.5, 0.9) == 0
    )

    await page.click("#clear")
    assert transparent_share(alpha(await page_mask(page))) == 0
    status = await submit(page, "anything")
    assert "Paint over the area to change first" in status
    await page.click("#undo")  # the clear is undone: the inverted mask is back
    mask = alpha(await page_mask(page))
    assert alpha_at(mask, 0.2, 0.25) == 255 and alpha_at(mask, 0.5, 0.9) == 0
    await page.click("#invert")
    await page.click("#brush")
    await mouse_stroke(page, (0.1, 0.9), (0.9, 0.9))
    status = await submit(page, "   ")
    assert "Say what should change" in status
    assert site.editor.submissions == []
    status = await submit(page, "snow on the hills")
    assert "Sent" in status
    mask = alpha(site.editor.submissions[0].mask)
    assert (
        alpha_at(mask, 0.2, 0.25) == 0 and alpha_at(mask, 0.45, 0.25) == 255 and alpha_at(mask, 0.5, 0.9) == 0
    )


@pytest.mark.parametrize(
    ("link", "status", "title"),
    [
        (lambda site: site.link("paint")[:-4] + "AAAA", 403, "This link is not valid"),
        (lambda site: site.link("paint", now=time.time() - 2 * 86400), 410, "This link has expired"),
        (lambda site: site.link("versions").replace("/versions?", "/paint?"), 403, "This link is not valid"),
    ],
    ids=["tampered", "expired", "versions-token-on-the-painter"],
)
async def test_refused_links_show_a_clear_page(
    site: Site, desktop: BrowserContext, link: object, status: int, title: str
) -> None:
    page = await desktop.new_page()
    response = await page.goto(link(site))  # type: ignore[operator]
    assert response is not None and response.status == status
    assert await page.text_content("h1") == title
    assert "Nothing was sent to the chat." in (await page.text_content("main") or "")
    assert site.editor.submissions == []


def init_data(user_id: int) -> str:
    fields = {"user": json.dumps({"id": user_id, "first_name": "Ada"}), "auth_date": str(int(time.time()))}
    fields["hash"] = sign_init_data(fields, BOT_TOKEN)
    return urlencode(fields)


async def as_mini_app(context: BrowserContext, site: Site, user_id: int) -> Page:
    """Open the painter as Telegram would: initData in the fragment, Telegram's script
    (a stand-in: no internet here) giving it to the page."""
    signed = init_data(user_id)
    stub = (
        "window.Telegram = {WebApp: {initData: "
        + json.dumps(signed)
        + ", ready() { window.tgReady = true; }, expand() {}, close() { window.tgClosed = true; }}};"
    )

    async def telegram_script(route: object) -> None:
        await route.fulfill(status=200, content_type="application/javascript", body=stub)  # type: ignore[attr-defined]

    await context.route("https://telegram.org/**", telegram_script)
    page = await open_painter(
        context, f"{site.link('paint')}#tgWebAppData={quote(signed)}&tgWebAppVersion=8.0"
    )
    await page.wait_for_function("() => window.tgReady === true")
    return page


async def test_inside_telegram_the_page_sends_init_data_of_the_right_user(
    site: Site, desktop: BrowserContext
) -> None:
    page = await as_mini_app(desktop, site, 42)
    await mouse_stroke(page, (0.3, 0.4), (0.6, 0.4))
    assert "Sent" in await submit(page, "a hot air balloon")
    assert len(site.editor.submissions) == 1
    await page.wait_for_function("() => window.tgClosed === true")


async def test_inside_telegram_another_user_is_refused(site: Site, desktop: BrowserContext) -> None:
    page = await as_mini_app(desktop, site, 4242)
    await mouse_stroke(page, (0.3, 0.4), (0.6, 0.4))
    status = await submit(page, "mine now")
    assert "This link is someone else's" in status
    assert site.editor.submissions == []


async def test_versions_page_shows_every_version_the_branches_and_originals(
    site: Site, desktop: BrowserContext
) -> None:
    nodes = branched_chain(site.editor)
    page = await desktop.new_page()
    await page.goto(site.link("versions", 4))
    shown = [
        int(turn) for turn in await page.locator(".node").evaluate_all("(ns) => ns.map(n => n.dataset.turn)")
    ]
    assert sorted(shown) == [node.turn_id for node in nodes]
    # The tree: 2 and 3 under 1 (a branch), 4 under 2, 5 under 3.
    parent_of = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.node')].map(n => {
            const up = n.parentElement.parentElement.closest('li');
            return [n.dataset.turn, up ? up.querySelector(':scope > .node').dataset.turn : null];
        }))"""
    )
    assert parent_of == {"1": None, "2": "1", "3": "1", "4": "2", "5": "3"}
    assert await page.locator("li.branch > .node").count() == 2
    assert await page.locator(".node.current").get_attribute("data-turn") == "4"
    text = await page.text_content("main") or ""
    assert "give it a scarf <script>alert('x')</script>" in text  # shown as text, not run
    assert await page.evaluate("() => document.querySelectorAll('main script').length") == 0
    assert "now make it night" in text and "$0.042" in text and "2025-05-01 09:37 UTC" in text
    assert "failed" in text and "5 versions (4 done), 1 branch" in text
    # Thumbnails load; originals download, the failed version has none.
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert await page.locator("a.download").count() == 4
    async with page.expect_download() as waiting:
        await page.click("#turn-3 a.download")
    download = await waiting.value
    assert download.suggested_filename == "redraw-3.png"
    path = await download.path()
    assert path.read_bytes() == site.editor.originals[("telegram", "-1001", 3)].data
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "versions.png"), full_page=True)


async def test_a_retry_after_a_lost_answer_is_the_same_submission(
    site: Site, desktop: BrowserContext
) -> None:
    """The first send never reaches the bot (the connection drops); the user presses Send
    again: the same submission id, so the bot makes one turn of it. A new text is a new one."""
    page = await open_painter(desktop, site.link("paint"))
    await mouse_stroke(page, (0.2, 0.5), (0.6, 0.5))
    ids: list[str] = []
    dropped = False

    async def flaky(route: Any) -> None:
        nonlocal dropped
        body = route.request.post_data_buffer or b""
        found = re.search(rb'name="submission"\r\n\r\n([A-Za-z0-9_-]+)', body)
        assert found is not None
        ids.append(found[1].decode())
        if not dropped:
            dropped = True
            await route.abort()
        else:
            await route.continue_()

    await page.route("**/paint?*", flaky)
    assert "can't be reached" in await submit(page, "a river of lava")
    assert "Sent" in await submit(page, "a river of lava")
    assert "Sent" in await submit(page, "a river of ice")
    assert ids[0] == ids[1] != ids[2]
    assert [sent.text for sent in site.editor.submissions] == ["a river of lava", "a river of ice"]
