"""Fixtures of the core tests. Helpers live in ``corekit`` (importable by the test modules)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from corekit import FakeServer, make_client

import kycflow


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    srv = FakeServer()
    await srv.start()
    yield srv
    await srv.close()


@pytest.fixture
async def server2() -> AsyncIterator[FakeServer]:
    srv = FakeServer()
    await srv.start()
    yield srv
    await srv.close()


@pytest.fixture
async def client(server: FakeServer) -> AsyncIterator[kycflow.Client]:
    async with make_client(server.base_url) as c:
        yield c
