"""New turns: from a message (its parent found by what it replies to) and from a button
(Regenerate, Variations, Retry). A turn is stored, keyed so a redelivery or a second
press never runs twice, before anything is spent; then the pipeline takes it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from bot.backends.base import ImageBackend
from bot.blobs import BlobNotFound, BlobStore
from bot.engine.options import EngineOptions
from bot.engine.pipeline import Job, Pipeline
from bot.engine.records import ChatState, MessageKey, SentMessage, TurnRecord
from bot.engine.regions import RegionGrids
from bot.engine.seams import ActionKind, ActionPress, Channel, ChatKind, Inbound
from bot.engine.settings import ChatSettings
from bot.engine.store import NewTurn, Store
from bot.errors import InputError
from bot.images.validation import check_upfront
from bot.messages import render, render_error

log = logging.getLogger(__name__)

# How long a reply to a just-sent picture waits for its key to be stored: 2 s at most.
RECORDING_LOOKS = 10
RECORDING_LOOK_S = 0.2


class Intake:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        *,
        backends: Mapping[str, ImageBackend],
        options: EngineOptions,
        settings: ChatSettings,
        pipeline: Pipeline,
        grids: RegionGrids,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.backends = backends
        self.options = options
        self.settings = settings
        self.pipeline = pipeline
        self.grids = grids

    async def replied(self, inbound: Inbound) -> SentMessage | None:
        """The bot's message being replied to. A picture whose key was never stored (the
        process died between sending it and storing its key) is still found by the turn its
        own buttons name, and its key is stored now."""
        if inbound.reply_to is None:
            return None
        if inbound.mask is not None and inbound.reply_turn is not None:
            # A painted mask was drawn on that turn's picture: it is the parent, whichever
            # turn the message shows by now (an inline message is edited in place).
            return await self._painted(inbound, inbound.reply_turn)
        replied = await self.store.sent_message(inbound.reply_to)
        if replied is None and inbound.reply_bot_picture and inbound.reply_turn is None:
            replied = await self._being_recorded(inbound.reply_to)
        if replied is not None or inbound.reply_turn is None:
            return replied
        turn = await self.store.get_turn(inbound.reply_turn)
        if turn is None or (turn.platform, turn.chat_id) != inbound.chat or not turn.output_blobs:
            return None
        index = min(max(inbound.reply_image, 0), len(turn.output_blobs) - 1)
        found = SentMessage(inbound.reply_to, turn.id, "image", index)
        await self.store.record_messages([found])
        return found

    async def _being_recorded(self, key: MessageKey) -> SentMessage | None:
        """One of the bot's pictures that carries no buttons (a variation above the last) and
        isn't stored yet: a reply that came within moments of it may have overtaken the
        write that stores the keys of the pictures just sent. Look again for a moment."""
        for _ in range(RECORDING_LOOKS):
            await asyncio.sleep(RECORDING_LOOK_S)
            if (found := await self.store.sent_message(key)) is not None:
                return found
        return None

    async def _painted(self, inbound: Inbound, turn_id: int) -> SentMessage | None:
        turn = await self.store.get_turn(turn_id)
        if turn is None or (turn.platform, turn.chat_id) != inbound.chat or not turn.output_blobs:
            return None
        index = min(max(inbound.reply_image, 0), len(turn.output_blobs) - 1)
        return SentMessage(inbound.reply_to or inbound.key, turn.id, "image", index)

    async def prompt(
        self, inbound: Inbound, channel: Channel, chat: ChatState, replied: SentMessage | None
    ) -> None:
        """A message to draw from."""
        if replied is None and inbound.reply_bot_picture:
            # One of our pictures we can't place: drawing from scratch would lose the user's picture.
            await channel.send_text(inbound.key, render("reply_picture_unknown", inbound.locale))
            return
        parent, parent_image = await self._parent_of(inbound, chat, replied)
        if inbound.images and not inbound.text.strip() and parent is None:
            # A bare photo: ask what to do rather than guess. Replying to it later brings it back.
            await channel.send_text(inbound.key, render("images_need_prompt", inbound.locale))
            return
        settings = (
            chat if inbound.settings_from is None else await self.store.chat_state(*inbound.settings_from)
        )
        backend = self.settings.backend_for(settings)
        try:
            # From the text and the platform's metadata first: a refused request downloads nothing.
            check_upfront(inbound.text, inbound.images, already=1 if parent and parent.output_blobs else 0)
            params = self.settings.request_params(settings, backend, inbound.params)
            # A region edit (a painter's mask, or a reply to a grid): the mask, at the picture's size.
            region = await self.grids.region_of(inbound, replied, parent, parent_image)
            uploads = [await image.load() for image in inbound.images]
        except InputError as error:
            await channel.send_text(inbound.key, render_error(error, inbound.locale))
            return
        # Uploads (and a mask) are kept so a retry after a crash still has them.
        input_blobs = [await self.blobs.put(data) for data in uploads]
        mask_blob = await self.blobs.put(region.mask) if region is not None else None
        new = NewTurn(
            platform=inbound.key.platform,
            chat_id=inbound.key.chat_id,
            user_id=inbound.user_id,
            prompt=inbound.text,
            backend=backend,
            model=self.options.models[backend],
            params=params,
            parent_id=parent.id if parent else None,
            parent_image=parent_image,
            inbound=inbound.key,
            locale=inbound.locale,
            input_blobs=input_blobs,
            instance_id=self.options.instance_id,
            mask_blob=mask_blob,
            claim=inbound.claim,
        )
        turn = await self.store.create_turn(new)
        if turn is None:
            log.info("inbound %s was already handled; ignoring the redelivery", inbound.key)
            return
        self.pipeline.start(Job(turn, channel, inbound.key, uploads, parent, region))

    async def _parent_of(
        self, inbound: Inbound, chat: ChatState, replied: SentMessage | None
    ) -> tuple[TurnRecord | None, int]:
        """A reply to a bot image continues that turn (any depth: a branch). In a private
        chat a plain follow-up continues the chat's latest turn until /new; a message
        that brings its own photos starts from them."""
        if inbound.reply_to is not None:
            if replied is not None and replied.kind in ("image", "caption", "grid"):
                return await self.store.get_turn(replied.turn_id), replied.image_index or 0
            return None, 0
        if inbound.chat_kind is ChatKind.PRIVATE and not inbound.images and chat.latest_turn_id is not None:
            return await self.store.get_turn(chat.latest_turn_id), 0
        return None, 0

    async def repeat(
        self, turn: TurnRecord, press: ActionPress, channel: Channel, locale: str | None
    ) -> None:
        """Regenerate (same parent, same prompt), variations, or retry a failed turn. A press
        is taken once, in the database: a turn is retried once ever (after a restart, on any
        instance), and the same user's second press of the same button while the first is
        still drawing is the same press."""
        retry = press.kind is ActionKind.RETRY
        new = NewTurn(
            platform=turn.platform,
            chat_id=turn.chat_id,
            user_id=press.user_id,
            prompt=turn.prompt,
            backend=turn.backend if turn.backend in self.backends else self.options.default_backend,
            model=turn.model,
            params=dict(turn.params),
            action=press.kind.value,
            parent_id=turn.parent_id,
            parent_image=turn.parent_image,
            locale=locale,
            input_blobs=list(turn.input_blobs),
            instance_id=self.options.instance_id,
            claim=f"retry:{turn.id}" if retry else None,
            source_turn_id=turn.id,
            mask_blob=turn.mask_blob,
        )
        parent = await self.store.get_turn(turn.parent_id) if turn.parent_id else None
        try:
            uploads = [await self.blobs.get(blob) for blob in turn.input_blobs]
            # A region edit keeps its mask.
            region = await self.grids.stored(turn, parent)
        except BlobNotFound:
            await channel.send_text(press.message, render("retry_not_possible", locale))
            return
        created = await self.store.create_turn(new)
        if created is None:
            refusal = "retry_not_possible" if retry else "already_drawing"
            await channel.send_text(press.message, render(refusal, locale))
            return
        self.pipeline.start(Job(created, channel, turn.inbound or press.message, uploads, parent, region))
