"""Which picture a web page's link may be offered for (``REDRAW_PUBLIC_URL``), the same
way on every platform: the turn exists on that platform, in the chat asked about, and the
one asking may use the bot (not blocked, allowed where the bot is restricted). The link's
language is the user's ``/language`` choice, else the platform's.

Nothing here decides who is in a chat: the platform adapters ask the platform (Telegram's
``getChatMember``) or show the link to the one who asked alone (Discord's ephemeral
messages)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.entry import Engine
from bot.engine.language import effective
from bot.engine.records import TurnRecord, TurnStatus
from bot.engine.seams import Inbound


@dataclass(frozen=True)
class Offer:
    turn: TurnRecord
    locale: str | None


async def offer(
    engine: Engine,
    platform: str,
    user_id: str,
    turn_id: int | None,
    locale: str | None,
    *,
    chat_id: str | None,
    drawn: bool = False,
) -> Offer | None:
    """The turn a link may name for ``user_id``, or None. ``chat_id`` None: any chat of the
    platform (the caller then checks that the user is in the turn's chat). ``drawn``: the
    turn must have a picture (the painter paints on it)."""
    if turn_id is None:
        return None
    turn = await engine.store.get_turn(turn_id)
    if turn is None or turn.platform != platform or (chat_id is not None and turn.chat_id != chat_id):
        return None
    if drawn and (turn.status is not TurnStatus.DONE or not turn.output_blobs):
        return None
    user = await engine.store.user(platform, user_id)
    if not engine.gate.permits(platform, user_id, turn.chat_id, user):
        return None
    return Offer(turn, effective(user, locale))


async def history_turn(engine: Engine, inbound: Inbound) -> int | None:
    """The turn ``/history`` shows for ``inbound``: the replied picture's, else the chat's latest."""
    replied = await engine.intake.replied(inbound)
    if replied is not None:
        return replied.turn_id
    return (await engine.store.chat_state(*inbound.chat)).latest_turn_id
