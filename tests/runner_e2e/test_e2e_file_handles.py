"""No document file handle outlives an upload, whatever ends it (regression tests)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from pathlib import Path

import pytest
from e2ekit import ASSETS, SAMPLES, assert_committed_once, make_client, wait_all_closed

import kycflow
from kycflow.testing import Faults, Sandbox


@pytest.mark.filterwarnings("error::ResourceWarning")
async def test_a_stream_cancelled_while_its_file_is_being_opened_closes_it(
    tmp_path: Path,
) -> None:
    # aiohttp cancels the task writing a body when the server answers before reading it (a 401
    # or a 5xx): that cancellation can land while the worker thread is still opening the file.
    path = tmp_path / "passport.jpg"
    path.write_bytes((ASSETS / "passport.jpg").read_bytes())
    doc = kycflow.Document.from_path(path)
    for _ in range(30):
        stream = doc.open_stream(1024)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the generator now awaits the open in a worker thread
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator here
    # Every open the worker threads were asked for has happened once the executor is shut down.
    await asyncio.get_running_loop().shutdown_default_executor()
    await wait_all_closed([path])
    gc.collect()  # a handle left to the garbage collector warns: an error here


@pytest.mark.filterwarnings("error::ResourceWarning")
async def test_uploads_refused_before_the_body_is_read_leave_no_file_open(
    docs_dir: Path,
) -> None:
    documents = [docs_dir / name for name in SAMPLES]
    faults = Faults().fail_next("upload", "5xx", 5, status=500)
    async with Sandbox(faults=faults) as sb:
        users = sb.create_users(5)
        async with make_client(sb) as client:
            provider = kycflow.DirectoryProvider(docs_dir)
            await asyncio.gather(
                *(
                    kycflow.WizardRunner(
                        client.with_auth(kycflow.BearerToken(u.access_token)), provider
                    ).run()
                    for u in users
                )
            )
        for user in users:
            assert_committed_once(sb, user)
    assert len(sb.faults_injected(route="upload")) == 5
    await wait_all_closed(documents)
    gc.collect()
