"""Fixtures of the watch tests. Helpers live in ``watchkit``."""

from __future__ import annotations
