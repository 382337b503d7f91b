"""Fixtures of the security tests. Helpers live in ``seckit`` (importable by the test modules)."""

from __future__ import annotations
