"""The upload part of a wizard step: validating its files, then bounded concurrent uploads.

Files are validated once, with the client's own limits (``client.files.validate`` when the
client has it), before the step's first request. An upload that fails transiently, its outcome
unknown included, is simply made again while the run's deadline allows: a stored file that no
submit references is an orphan, which is harmless.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from typing import Any

from .. import _telemetry as telemetry
from ..documents import Document
from ..errors import DocumentError, KycflowError
from .events import FileUploaded
from .pacing import Pacer
from .reporting import Reporter
from .results import FilesAPI
from .state import LiveStepInProgress, LiveUpload, RunState

__all__ = ["Uploader"]


async def validate(files: FilesAPI, doc: Document) -> Document:
    """``doc`` checked with the client's limits when it has ``validate``, else the defaults."""
    check = getattr(files, "validate", None)
    try:
        if callable(check):
            checked = await check(doc)
            if isinstance(checked, Document):
                return checked
        return await doc.validate()
    except KycflowError:
        raise
    except Exception as exc:
        raise DocumentError(
            f"cannot read document {doc.name}: {type(exc).__name__}", name=doc.name
        ) from exc


class Uploader:
    """Uploads a step's files for one run, at most ``concurrency`` at once."""

    __slots__ = ("_concurrency", "_files", "_pacer", "_reporter", "_state")

    def __init__(
        self,
        files: FilesAPI,
        state: RunState,
        pacer: Pacer,
        reporter: Reporter,
        concurrency: int,
    ) -> None:
        self._files = files
        self._state = state
        self._pacer = pacer
        self._reporter = reporter
        self._concurrency = concurrency

    async def upload_all(
        self, number: int, current: LiveStepInProgress, docs: list[Document], wants_events: bool
    ) -> list[str]:
        """The stored paths of ``docs`` in order: reused from ``current`` or uploaded now."""
        paths: list[str | None] = [current.uploaded_path(i, d.name) for i, d in enumerate(docs)]
        if wants_events:
            for index, (doc, path) in enumerate(zip(docs, paths, strict=True)):
                if path is not None:
                    await self._uploaded(number, current.type_id, index, doc, path, reused=True)
        missing = paths.count(None)
        if missing == 1:
            # No sibling to cancel: a task, a TaskGroup and a coroutine frame (held by each of
            # thousands of waiting runs) would cost more than they do.
            index = paths.index(None)
            doc = docs[index]
            path = await self._pacer.retry_call(
                "upload", number, current.type_id, self._files.upload, doc,
                around=self._span(current.type_id, doc),
            )  # fmt: skip
            await self._record(number, current, paths, index, doc, path, wants_events)
        elif missing:
            pending = [index for index, path in enumerate(paths) if path is None]
            semaphore = asyncio.Semaphore(self._concurrency)
            # A TaskGroup so that a failed upload, or cancelling the run, cancels the siblings
            # and waits for them: the client closes each upload's stream in its own ``finally``.
            try:
                async with asyncio.TaskGroup() as group:
                    for index in pending:
                        group.create_task(
                            self._upload_one(
                                number,
                                current,
                                paths,
                                index,
                                docs[index],
                                semaphore=semaphore,
                                wants_events=wants_events,
                            )
                        )
            except ExceptionGroup as eg:
                raise _first_error(eg) from None
        return [path for path in paths if path is not None]

    async def _upload_one(
        self,
        number: int,
        current: LiveStepInProgress,
        paths: list[str | None],
        index: int,
        doc: Document,
        *,
        semaphore: asyncio.Semaphore,
        wants_events: bool,
    ) -> None:
        async with semaphore:
            path = await self._pacer.retry_call(
                "upload", number, current.type_id, self._files.upload, doc,
                around=self._span(current.type_id, doc),
            )  # fmt: skip
        await self._record(number, current, paths, index, doc, path, wants_events)

    async def _record(
        self,
        number: int,
        current: LiveStepInProgress,
        paths: list[str | None],
        index: int,
        doc: Document,
        path: str,
        wants_events: bool,
    ) -> None:
        """An upload done: in ``paths``, in the checkpoint (saved), in an event."""
        uploaded = LiveUpload(index, doc.name, path)
        state = self._state
        if state.persist:
            async with state.lock:
                paths[index] = path
                current.uploads.append(uploaded)
                await state.save_locked()
        else:  # no await in between: nothing to serialise against
            paths[index] = path
            current.uploads.append(uploaded)
        if wants_events:
            await self._uploaded(number, current.type_id, index, doc, path, reused=False)

    def _span(self, type_id: int, doc: Document) -> AbstractContextManager[Any] | None:
        """The upload's span handle when telemetry is on (else None: no span to enter),
        entered by each attempt. Even an upload whose outcome is unknown is made again: the
        file may be stored already, and a stored file no submit references is an orphan,
        which is harmless."""
        if not telemetry.telemetry_enabled():
            return None
        span: AbstractContextManager[Any] = telemetry.upload_span(type_id, doc.size)
        return span

    async def _uploaded(
        self, number: int, type_id: int, index: int, doc: Document, path: str, *, reused: bool
    ) -> None:
        await self._reporter.emit(
            FileUploaded(
                run_id=self._state.run_id,
                step=number,
                type_id=type_id,
                index=index,
                file_name=doc.name,
                size=doc.size,
                path=path,
                reused=reused,
            )
        )


def _first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    for exc in leaves:
        if isinstance(exc, KycflowError):
            return exc
    return leaves[0]
