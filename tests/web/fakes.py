"""An in-memory RegionEditor that records submissions, and a server over it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageDraw

from adapters.web import tokens
from adapters.web.links import link_for
from adapters.web.ports import Claim, Original, PictureInfo, Purpose, VersionNode
from adapters.web.server import WebPages, WebServer, serve
from bot.errors import RedrawError

KEY = b"k" * 32
BOT_TOKEN = "123456:test-bot-token"
CHAT = "-1001"
USER = "42"
OTHER_CHAT = "-1002"


def scene(width: int, height: int, sky: tuple[int, int, int] = (120, 170, 235)) -> bytes:
    """A small landscape (sky, sun, hills): something to paint on."""
    image = Image.new("RGB", (width, height), sky)
    draw = ImageDraw.Draw(image)
    for y in range(height // 2):
        shade = tuple(min(255, c + y // 3) for c in sky)
        draw.line([(0, y), (width, y)], fill=shade)
    draw.ellipse(
        [width * 0.68, height * 0.12, width * 0.82, height * 0.12 + width * 0.14], fill=(255, 214, 90)
    )
    draw.polygon(
        [(0, height), (0, height * 0.62), (width * 0.35, height * 0.45), (width * 0.7, height)],
        fill=(70, 140, 80),
    )
    draw.polygon(
        [(width * 0.3, height), (width * 0.72, height * 0.5), (width, height * 0.66), (width, height)],
        fill=(50, 110, 65),
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Submission:
    claim: Claim
    text: str
    mask: bytes
    submission_id: str


@dataclass
class FakeEditor:
    pictures: dict[int, PictureInfo] = field(default_factory=dict)
    trees: dict[tuple[str, str], list[VersionNode]] = field(default_factory=dict)
    originals: dict[tuple[str, str, int], Original] = field(default_factory=dict)
    submissions: list[Submission] = field(default_factory=list)
    refuse_with: RedrawError | None = None

    def add_picture(
        self,
        turn_id: int,
        width: int,
        height: int,
        *,
        chat_id: str = CHAT,
        platform: str = "telegram",
        sky: tuple[int, int, int] = (120, 170, 235),
    ) -> bytes:
        data = scene(width, height, sky)
        self.pictures[turn_id] = PictureInfo(data, "image/png", width, height, platform, chat_id)
        self.originals[(platform, chat_id, turn_id)] = Original(data, "image/png", f"redraw-{turn_id}.png")
        return data

    async def picture(self, turn_id: int, image_index: int = 0) -> PictureInfo | None:
        return self.pictures.get(turn_id)

    async def submit_region(self, claim: Claim, text: str, mask_png: bytes, submission_id: str) -> None:
        if self.refuse_with is not None:
            raise self.refuse_with
        self.submissions.append(Submission(claim, text, mask_png, submission_id))

    async def chat_tree(self, platform: str, chat_id: str) -> list[VersionNode]:
        return list(self.trees.get((platform, chat_id), []))

    async def original(self, platform: str, chat_id: str, turn_id: int) -> Original | None:
        return self.originals.get((platform, chat_id, turn_id))


# Day, night, a pink dusk, a darker night: versions told apart by their thumbnails.
SKIES = {1: (120, 170, 235), 2: (20, 30, 80), 3: (235, 140, 160), 4: (10, 15, 45)}


def branched_chain(editor: FakeEditor) -> list[VersionNode]:
    """v1 → v2 → v4, v1 → v3 (a branch) → v5 (failed); one prompt tries to inject HTML."""
    start = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)
    rows = [
        (1, None, "a red fox in the snow", "done", 0.042),
        (2, 1, "now make it night", "done", 0.038),
        (3, 1, "give it a scarf <script>alert('x')</script>", "done", 0.051),
        (4, 2, "add a full moon", "done", 0.040),
        (5, 3, "make the scarf striped", "failed", None),
    ]
    nodes = []
    for index, (turn, parent, prompt, status, cost) in enumerate(rows):
        created = start + timedelta(minutes=7 * index)
        nodes.append(
            VersionNode(
                turn_id=turn,
                parent_id=parent,
                prompt=prompt,
                status=status,
                created_at=created,
                finished_at=created + timedelta(seconds=31 + index) if status == "done" else None,
                cost_usd=cost,
                settings={
                    "size": "1024x1024",
                    "quality": "high" if turn % 2 else "medium",
                    "backend": "responses",
                },
                has_original=status == "done",
            )
        )
        if status == "done":
            editor.add_picture(turn, 256, 256, sky=SKIES[turn])
    editor.trees[("telegram", CHAT)] = nodes
    # A picture of another chat: never reachable with this chat's token.
    editor.add_picture(99, 256, 256, chat_id=OTHER_CHAT)
    return nodes


def claim(
    purpose: Purpose,
    turn_id: int = 7,
    *,
    user: str = USER,
    chat: str = CHAT,
    now: float | None = None,
    locale: str | None = None,
) -> Claim:
    return tokens.new_claim(
        purpose, platform="telegram", chat_id=chat, user_id=user, turn_id=turn_id, locale=locale, now=now
    )


def token(
    purpose: Purpose,
    turn_id: int = 7,
    *,
    user: str = USER,
    chat: str = CHAT,
    now: float | None = None,
    locale: str | None = None,
) -> str:
    return tokens.sign(KEY, claim(purpose, turn_id, user=user, chat=chat, now=now, locale=locale))


@dataclass
class Site:
    editor: FakeEditor
    server: WebServer
    pages: WebPages

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def link(self, purpose: Purpose, turn_id: int = 7, *, user: str = USER, now: float | None = None) -> str:
        return link_for(self.base, KEY, claim(purpose, turn_id, user=user, now=now))


@asynccontextmanager
async def running(editor: FakeEditor) -> AsyncIterator[Site]:
    pages = WebPages(editor, KEY, BOT_TOKEN)
    server = await serve(pages, "127.0.0.1", 0)
    try:
        yield Site(editor, server, pages)
    finally:
        await server.close()
