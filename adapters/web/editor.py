"""The engine as the web pages see it (:class:`~adapters.web.ports.RegionEditor`).

A painted region becomes a turn the way a reply to the picture would: a child of it, in
its chat, answering as a reply to it, with progress, buttons and charges as usual. A page
that sends the same submission twice (a retrying browser) makes one turn: the submission
id is the turn's claim, taken once in the database.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.web.ports import Claim, Original, PictureInfo, RegionEditor, VersionNode
from bot.engine.entry import Engine
from bot.engine.records import TurnRecord, TurnStatus
from bot.engine.seams import Channel, ChatKind, Inbound
from bot.errors import InputError
from bot.images import imaging
from bot.images.offload import run_cpu
from bot.images.types import MIME_EXTENSIONS
from bot.images.validation import check_upfront


class EngineEditor(RegionEditor):
    """``channels``: each platform's Channel, as the runtime gives them to the engine."""

    def __init__(self, engine: Engine, channels: Mapping[str, Channel]) -> None:
        self.engine = engine
        self.channels = channels

    async def _drawn(self, turn_id: int) -> TurnRecord | None:
        turn = await self.engine.store.get_turn(turn_id)
        if turn is None or turn.status is not TurnStatus.DONE or not turn.output_blobs:
            return None
        return turn

    async def picture(self, turn_id: int, image_index: int = 0) -> PictureInfo | None:
        turn = await self._drawn(turn_id)
        if turn is None:
            return None
        data = await self.engine.blobs.get(turn.output_blobs[min(image_index, len(turn.output_blobs) - 1)])
        mime, width, height = await run_cpu(imaging.describe, data)
        return PictureInfo(data, mime, width, height, turn.platform, turn.chat_id)

    async def submit_region(self, claim: Claim, text: str, mask_png: bytes, submission_id: str) -> None:
        turn = await self._drawn(claim.turn_id)
        channel = self.channels.get(claim.platform)
        if (
            turn is None
            or channel is None
            or (turn.platform, turn.chat_id) != (claim.platform, claim.chat_id)
        ):
            raise InputError("the picture is gone", key="turn_missing")
        # The message showing the picture; an inline message shows its newest turn by now,
        # and a picture whose key was never stored has its prompt to answer under.
        index = min(claim.image_index, len(turn.output_blobs) - 1)
        picture = await self.engine.store.picture_message(turn.id, index) or turn.inbound
        if picture is None:
            raise InputError("the picture's message is gone", key="turn_missing")
        # Refusals the page can show, before anything reaches the chat.
        user = await self.engine.store.user(claim.platform, claim.user_id)
        if not self.engine.gate.permits(claim.platform, claim.user_id, claim.chat_id, user):
            raise InputError("not allowed", key="not_allowed")
        check_upfront(text, (), already=1)
        inbound = Inbound(
            # The answer replies to the picture; the claim makes the submission one turn.
            key=picture,
            user_id=claim.user_id,
            user_name="",
            # A reply to the bot's picture is addressed in any chat; the kind only decides
            # where a message without a reply continues from.
            chat_kind=ChatKind.GROUP,
            text=text,
            locale=claim.locale,
            reply_to=picture,
            addressed=True,
            reply_bot_picture=True,
            reply_turn=turn.id,
            reply_image=index,
            mask=mask_png,
            claim=f"web:{submission_id}",
        )
        await self.engine.handle(inbound, channel)

    async def chat_tree(self, platform: str, chat_id: str) -> list[VersionNode]:
        return [
            VersionNode(
                turn_id=turn.id,
                parent_id=turn.parent_id,
                prompt=turn.prompt,
                status=turn.status.value,
                created_at=turn.created_at,
                finished_at=turn.finished_at,
                cost_usd=turn.cost_usd,
                settings={key: str(value) for key, value in turn.params.items()},
                has_original=bool(turn.output_blobs),
            )
            for turn in await self.engine.store.chat_tree(platform, chat_id)
            if turn.created_at is not None
        ]

    async def original(self, platform: str, chat_id: str, turn_id: int) -> Original | None:
        turn = await self._drawn(turn_id)
        if turn is None or (turn.platform, turn.chat_id) != (platform, chat_id):
            return None
        data = await self.engine.blobs.get(turn.output_blobs[0])
        mime = imaging.sniff_mime(data) or "image/png"
        return Original(data, mime, f"redraw-{turn.id}.{MIME_EXTENSIONS.get(mime, 'png')}")
