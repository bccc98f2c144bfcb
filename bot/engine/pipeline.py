"""A stored turn's life: admit (validation, budget, a slot) → call the backend → deliver
(charge and store, then show). Each turn is one task; cancel and shutdown reach it here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.backends.base import ImageBackend
from bot.engine.admission import Admission, TurnTaken
from bot.engine.options import EngineOptions
from bot.engine.pictures import Pictures, actions, caption, short
from bot.engine.records import MessageKey, SentMessage, TurnRecord, TurnStatus
from bot.engine.regions import Region, region_request
from bot.engine.seams import ActionKind, Channel
from bot.engine.status import Status
from bot.engine.store import Outcome, Store
from bot.errors import InputError, RedrawError, UpstreamError
from bot.images.pricing import Quote
from bot.images.types import ImageParams, ImageRequest, ParentTurn, PartialImage, TurnResult
from bot.images.validation import SINGLE_IMAGE_BACKENDS, prepare_request
from bot.messages import render, render_error
from bot.telemetry import metrics
from bot.telemetry.context import current_turn

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A turn being worked on: where it answers, and what it starts from."""

    turn: TurnRecord
    channel: Channel
    # The user's message the answers reply to.
    reply_to: MessageKey
    uploads: list[bytes]
    parent: TurnRecord | None
    # A region edit: the mask and the parent's picture it applies to.
    region: Region | None = None
    task: asyncio.Task[None] | None = None
    # Set once results are in: from then on the turn is paid for and cannot be cancelled.
    delivering: bool = False
    # Cancelled by a shutdown rather than by the user: the turn is interrupted, with Retry.
    interrupted: bool = False
    # How it ended, once written.
    outcome: Outcome | None = None
    # What the chat sees while it waits and draws.
    status: Status | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Drawn:
    """What the provider calls of one turn gave: the copies drawn, and the ones that failed."""

    results: list[TurnResult]
    failures: list[BaseException]
    asked: int


class Pipeline:
    def __init__(
        self,
        store: Store,
        backends: Mapping[str, ImageBackend],
        options: EngineOptions,
        admission: Admission,
        pictures: Pictures,
    ) -> None:
        self.store = store
        # The engine's own mapping: a backend swapped in it is the one called.
        self.backends = backends
        self.options = options
        self.admission = admission
        self.pictures = pictures
        self.jobs: dict[int, Job] = {}

    # --- the turns in flight ---------------------------------------------------------

    def start(self, job: Job) -> None:
        turn_id = job.turn.id
        self.jobs[turn_id] = job
        job.task = asyncio.create_task(self._run(job), name=f"turn-{turn_id}")
        job.task.add_done_callback(lambda _task: self._ended(turn_id))

    def _ended(self, turn_id: int) -> None:
        self.jobs.pop(turn_id, None)
        self.admission.freed()

    def cancel(self, turn_id: int) -> bool:
        job = self.jobs.get(turn_id)
        if job is None or job.task is None or job.task.done() or job.delivering:
            return False
        job.task.cancel()
        return True

    def mine(self, platform: str, chat_id: str, user_id: str) -> list[int]:
        """The turns in flight that ``user_id`` asked for in a chat."""
        return [
            job.turn.id
            for job in self.jobs.values()
            if job.turn.user_id == user_id and (job.turn.platform, job.turn.chat_id) == (platform, chat_id)
        ]

    async def stop(self, grace_s: float) -> None:
        """Turns in flight get ``grace_s`` to finish; the rest are interrupted, with Retry."""
        running = [job.task for job in self.jobs.values() if job.task is not None]
        if running and grace_s > 0:
            await asyncio.wait(running, timeout=grace_s)
        for job in list(self.jobs.values()):
            # A turn already delivering is paid for: let it finish sending.
            if job.task is not None and not job.task.done() and not job.delivering:
                job.interrupted = True
                job.task.cancel()
        await self.drain()

    async def drain(self) -> None:
        """Wait for every turn in flight (tests, and a clean shutdown)."""
        while tasks := [job.task for job in self.jobs.values() if job.task is not None]:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- one turn ---------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        # This task's own context: every record logged for the turn carries its id.
        current_turn.set(job.turn.id)
        started = time.monotonic()
        metrics.IN_FLIGHT.inc()
        try:
            await self._run_to_an_end(job)
        finally:
            metrics.IN_FLIGHT.dec()
            _account(job, time.monotonic() - started)

    async def _run_to_an_end(self, job: Job) -> None:
        """:meth:`_draw`, and whatever stops it (cancel, shutdown, an error) told in the chat."""
        turn = job.turn
        try:
            await self._draw(job)
        except asyncio.CancelledError:
            if job.interrupted:
                await self._interrupted_by_shutdown(job)
                return
            await self._finish(job, Outcome(TurnStatus.CANCELLED, error_kind="cancelled"))
            shown = await self._close_status(job, keep=True)
            await job.channel.send_text(job.reply_to, render("cancelled", turn.locale), replace=shown)
        except RedrawError as error:
            await self._fail(job, error)
        except TurnTaken:
            log.warning("turn %s was interrupted by another instance's recovery", turn.id)
        except Exception as exc:
            if job.delivering:
                # Paid for and stored: it must not be marked failed (its Retry would redraw).
                log.exception("turn %s: could not finish delivering", turn.id)
                return
            log.exception("turn %s failed unexpectedly", turn.id)
            await self._fail(job, RedrawError(f"{type(exc).__name__}: {exc}"))
        finally:
            await self._close_status(job, keep=False)

    async def _draw(self, job: Job) -> None:
        """Admit, call, deliver: the path of a turn that goes well."""
        turn, channel, reply_to, parent = job.turn, job.channel, job.reply_to, job.parent
        backend = self.backends[turn.backend]
        parent_turn = _parent_turn(parent, turn.parent_image) if parent and parent.output_blobs else None
        parent_images = len(parent_turn.images) if parent_turn else 0
        copies = self.options.variations if turn.action == ActionKind.VARIATIONS.value else 1
        params = ImageParams(**turn.params)
        if copies > 1 and turn.backend not in SINGLE_IMAGE_BACKENDS:
            params, copies = replace(params, n=copies), 1
        if job.region is not None:
            request = await region_request(turn, params, job.region, job.uploads, parent_images)
        else:
            request = await prepare_request(
                turn.prompt,
                params,
                model=turn.model,
                backend=turn.backend,
                images=job.uploads,
                parent_images=parent_images,
                user_id=f"{turn.platform}:{turn.user_id}",
            )
        quote = self.options.prices.quote(turn.model, request, copies=copies, parent_images=parent_images)
        if (refusal := await self.admission.early_refusal(turn, quote.usd)) is not None:
            raise refusal
        # From here the chat may see a status message; the provider call never waits for it.
        status = job.status = Status(
            channel.progress(
                reply_to, actions([ActionKind.CANCEL], turn.id, turn.locale), label=short(turn.prompt, 40)
            ),
            turn.locale,
            after_s=self.options.status_after_s,
            every_s=self.options.progress_every_s,
        )
        async with self.admission.slot(turn, quote.usd, status.waiting):
            status.drawing()
            drawn = await _call(backend, request, parent_turn, copies, status)
            job.delivering = True
        # A quick picture takes its status message's place; a slow one comes as a new
        # message, which notifies (an edit does not), and the status goes.
        quick = time.monotonic() - job.started <= self.options.notify_after_s
        shown = await self._close_status(job, keep=quick)
        await self._deliver(job, quote=quote, drawn=drawn, shown=shown)

    async def _deliver(self, job: Job, *, quote: Quote, drawn: Drawn, shown: MessageKey | None) -> None:
        turn, results = job.turn, drawn.results
        images = [image for result in results for image in result.images]
        first = results[0]
        state = first.state if len(results) == 1 else {"variants": [result.state for result in results]}
        outcome = Outcome(
            TurnStatus.DONE,
            state=state,
            output_blobs=[image.blob_id for image in images],
            model=first.model,
            # Only the copies that were drawn are charged.
            cost_usd=round(quote.charge(results), 6),
            request_id=first.request_id,
            revised_prompt=first.revised_prompt,
        )
        # The turn and its charge are written before anything is sent: a crash after this
        # point never charges twice and never loses the images (recovery sends them).
        progress = [SentMessage(shown, turn.id, "progress")] if shown is not None else []
        done = await self._finish(job, outcome, progress)
        text = caption(done)
        if drawn.failures:
            reason = render_error(_as_redraw_error(drawn.failures[0]), turn.locale)
            text += "\n" + render(
                "variations_partial",
                turn.locale,
                failed=len(drawn.failures),
                total=drawn.asked,
                reason=short(reason, 300),
            )
        try:
            await self.pictures.show(
                done, job.reply_to, job.channel, images, text, locale=turn.locale, replace=shown
            )
        except Exception:
            # The turn stays done and charged once; Retry sends the stored pictures.
            log.exception("turn %s: the pictures are drawn but could not be sent", turn.id)
            await self.pictures.tell(
                turn, job.channel, job.reply_to, render("delivery_failed", turn.locale), retry=True
            )

    async def _finish(self, job: Job, outcome: Outcome, messages: Sequence[SentMessage] = ()) -> TurnRecord:
        finished = await self.store.finish_turn(job.turn.id, outcome, messages)
        job.outcome = outcome
        return finished

    async def _fail(self, job: Job, error: RedrawError) -> None:
        turn = job.turn
        request_id = getattr(error, "request_id", None)
        await self._finish(
            job,
            Outcome(
                TurnStatus.FAILED,
                error_kind=error.message_key,
                error_message=error.detail[:1000],
                request_id=request_id,
            ),
        )
        # Bad input: nothing to retry until the user changes it. Otherwise offer Retry.
        retry = not isinstance(error, InputError)
        shown = await self._close_status(job, keep=True)
        await self.pictures.tell(
            turn, job.channel, job.reply_to, render_error(error, turn.locale), retry=retry, replace=shown
        )
        if isinstance(error, UpstreamError):
            log.warning(
                "turn %s failed upstream: %s (request id %s)",
                turn.id,
                error.kind,
                request_id,
                extra={"request_id": request_id},
            )

    async def _close_status(self, job: Job, *, keep: bool) -> MessageKey | None:
        """Stop the turn's status; with ``keep``, the message on screen for the answer to replace."""
        if job.status is None:
            return None
        try:
            return await job.status.close(keep=keep)
        except Exception:
            log.exception("turn %s: could not close its status message", job.turn.id)
            return None

    async def _interrupted_by_shutdown(self, job: Job) -> None:
        turn = job.turn
        await self._finish(job, Outcome(TurnStatus.INTERRUPTED, error_kind="interrupted"))
        text = render("shutting_down", turn.locale, prompt=short(turn.prompt, 80))
        try:
            shown = await self._close_status(job, keep=True)
            await self.pictures.tell(turn, job.channel, job.reply_to, text, retry=True, replace=shown)
        except Exception:
            log.exception("could not tell chat %s that turn %s was interrupted", turn.chat_id, turn.id)


async def _call(
    backend: ImageBackend, request: ImageRequest, parent: ParentTurn | None, copies: int, status: Status
) -> Drawn:
    async def on_partial(partial: PartialImage) -> None:
        status.preview(partial.data)

    calls = [backend.run(request, parent, on_partial=on_partial) for _ in range(copies)]
    # Every copy runs to its end (a cancelled turn cancels them all): a copy that
    # fails must not leave its siblings drawing, billed, with no turn to account for them.
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    results = [outcome for outcome in outcomes if isinstance(outcome, TurnResult)]
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if not results:
        raise failures[0]
    return Drawn(results, failures, copies)


def _account(job: Job, seconds: float) -> None:
    """The turn's one summary line, and its metrics."""
    turn, outcome = job.turn, job.outcome
    status = outcome.status.value if outcome is not None else "abandoned"
    metrics.TURNS.labels(turn.platform, turn.backend, status).inc()
    metrics.TURN_SECONDS.labels(turn.backend, status).observe(seconds)
    cost = outcome.cost_usd if outcome is not None else 0.0
    if cost:
        metrics.COST.labels(turn.platform, outcome.model if outcome and outcome.model else turn.model).inc(
            cost
        )
    log.info(
        "turn %s %s in %.1f s (%s, %s, $%.3f)",
        turn.id,
        status,
        seconds,
        turn.backend,
        turn.model,
        cost,
        extra={
            "status": status,
            "seconds": round(seconds, 3),
            "platform": turn.platform,
            "chat_id": turn.chat_id,
            "backend": turn.backend,
            "model": turn.model,
            "cost_usd": cost,
            "request_id": outcome.request_id if outcome else None,
            "error_kind": outcome.error_kind if outcome else None,
        },
    )


def _as_redraw_error(error: BaseException) -> RedrawError:
    if isinstance(error, RedrawError):
        return error
    return RedrawError(f"{type(error).__name__}: {error}")


def _parent_turn(parent: TurnRecord, index: int) -> ParentTurn:
    """What the backend continues from: the chosen output image and the state that made it."""
    index = index if 0 <= index < len(parent.output_blobs) else 0
    variants = parent.state.get("variants")
    state = variants[index] if isinstance(variants, list) and index < len(variants) else parent.state
    return ParentTurn(parent.backend, state, (parent.output_blobs[index],))
