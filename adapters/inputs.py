"""What the engine is given of the pictures around a message, on every platform: which
media types are pictures, and the replied-picture rule."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.engine.records import MessageKey
from bot.engine.seams import ImageInput, Inbound

# Image types we don't read, though their MIME type says image.
NOT_PICTURES = frozenset({"image/svg+xml"})


def is_picture_type(mime: str) -> bool:
    """Whether a (lower-case, parameterless) media type is a picture we read."""
    return mime.startswith("image/") and mime not in NOT_PICTURES


@dataclass(frozen=True)
class Replied:
    """The message an inbound replies to, as the platform sees it."""

    key: MessageKey
    user_id: str | None
    by_bot: bool
    # Its pictures, as inputs (in order).
    pictures: tuple[ImageInput, ...] = ()
    # On one of the bot's pictures: the turn its buttons name, which of the turn's pictures it shows.
    turn: int | None = None
    image: int = 0


def with_reply(inbound: Inbound, replied: Replied | None) -> Inbound:
    """``inbound`` replying to ``replied`` (None: nothing known of it; ``inbound`` as it is)."""
    if replied is None:
        return inbound
    images, unsupported = inbound.images, inbound.unsupported
    if not replied.by_bot and replied.pictures:
        # A user's picture being replied to is an input; the bot's own pictures are
        # the engine's business (it continues from the stored turn).
        images, unsupported = (*replied.pictures, *images), None
    return replace(
        inbound,
        images=images,
        unsupported=unsupported,
        reply_to=replied.key,
        addressed=inbound.addressed or replied.by_bot,
        reply_user_id=replied.user_id,
        reply_bot_picture=replied.by_bot and bool(replied.pictures),
        reply_turn=replied.turn if replied.by_bot else None,
        reply_image=replied.image if replied.by_bot else 0,
    )
