"""Helpers of the fleet tests (importable as ``fleetkit``: the tests run in importlib mode)."""

from __future__ import annotations

from redis_fixtures import free_port as free_port
