"""The run's deadline (``RunDeadline``): ``asyncio.timeout``'s decisions, in a lighter object."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from runner_fakes import ALL_DOCS, FakeServer

from kycflow import WizardDeadlineError, WizardRunner
from kycflow.wizard.events import Failed, WizardEvent
from kycflow.wizard.pacing import RunDeadline


def _current() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    assert task is not None
    return task


def _recording_timers(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.TimerHandle]:
    loop = asyncio.get_running_loop()
    timers: list[asyncio.TimerHandle] = []
    call_later = loop.call_later

    def recording(delay: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        timers.append(call_later(delay, callback, *args, **kwargs))
        return timers[-1]

    monkeypatch.setattr(loop, "call_later", recording)
    return timers


async def test_an_expired_deadline_owns_the_cancellation_and_takes_it_back() -> None:
    async def body() -> bool:
        deadline = RunDeadline(0.01)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            ours = deadline.stop()
            assert _current().cancelling() == 0
            return ours
        return False

    assert await asyncio.wait_for(body(), 2) is True


async def test_a_deadline_stopped_in_time_leaves_no_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    timers = _recording_timers(monkeypatch)
    deadline = RunDeadline(30)
    await asyncio.sleep(0)
    assert deadline.stop() is False
    [timer] = timers
    assert timer.cancelled()
    assert deadline.stop() is False  # a second stop changes nothing
    assert RunDeadline(None).stop() is False
    assert len(timers) == 1  # no deadline, no timer


async def test_a_cancel_from_outside_is_never_taken_for_the_deadline() -> None:
    started = asyncio.Event()
    deadlines: list[RunDeadline] = []
    seen: list[bool] = []

    async def body() -> None:
        deadlines.append(RunDeadline(30))
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            seen.append(deadlines[-1].stop())
            raise

    # Cancelled before the deadline.
    task = asyncio.create_task(body())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The deadline expires and someone else cancels too, before the task runs again: the
    # cancellation is not the deadline's alone, so it stays a cancellation.
    started.clear()
    task = asyncio.create_task(body())
    await started.wait()
    deadlines[-1]._expire()  # as its timer does
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [False, False]
    assert task.cancelling() == 1  # the outside cancel is still counted; the deadline's is not


async def test_a_run_cancelled_from_outside_is_cancelled_not_timed_out() -> None:
    server = FakeServer()
    user = server.user()
    user.gate = asyncio.Event()  # never opened: the upload hangs
    events: list[WizardEvent] = []
    runner = WizardRunner(server.client(), ALL_DOCS, deadline=30, on_event=events.append)
    task = asyncio.create_task(runner.run())
    async with asyncio.timeout(5):
        await user.blocked_event.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(isinstance(e, Failed) for e in events)


async def test_a_run_past_its_deadline_fails_with_the_deadline_error() -> None:
    server = FakeServer()
    server.user().gate = asyncio.Event()
    events: list[WizardEvent] = []
    runner = WizardRunner(server.client(), ALL_DOCS, deadline=0.05, on_event=events.append)
    with pytest.raises(WizardDeadlineError) as info:
        await asyncio.wait_for(runner.run(), 5)
    assert isinstance(info.value.__cause__, asyncio.CancelledError)
    assert _current().cancelling() == 0
    assert isinstance(events[-1], Failed)
    assert events[-1].error == "WizardDeadlineError"


def test_deadlines_fire_in_event_loops_of_several_threads() -> None:
    # Timer callbacks share an empty context per thread: one shared by every thread would be
    # "already entered" when two loops fire at once, and the callback would never run.
    import threading

    async def many() -> int:
        async def one() -> bool:
            deadline = RunDeadline(0.001)
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                return deadline.stop()
            return False

        return sum(await asyncio.wait_for(asyncio.gather(*(one() for _ in range(2000))), 10))

    fired: list[int] = []
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: timers of two loops fire at once
    threads = [threading.Thread(target=lambda: fired.append(asyncio.run(many()))) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(30)
    finally:
        sys.setswitchinterval(switch)
    assert fired == [2000] * 4


class _Abort(BaseException):
    """Neither an Exception nor a cancellation (as KeyboardInterrupt is)."""


async def test_a_run_ended_by_a_base_exception_leaves_no_deadline_behind() -> None:
    class AbortingProvider:
        async def documents_for(self, doc_type: Any) -> None:
            raise _Abort

    runner = WizardRunner(FakeServer().client(), AbortingProvider(), deadline=0.05)
    with pytest.raises(_Abort):
        await runner.run()
    await asyncio.sleep(0.15)  # past the deadline: this task is not cancelled by it
    assert _current().cancelling() == 0
