"""The secrets the CLI has seen, scrubbed from everything it prints."""

from __future__ import annotations

from pydantic import SecretStr

__all__ = ["Secrets", "secrets"]


class Secrets:
    """Every secret the CLI has seen (tokens, passwords, codes), scrubbed from what it prints.

    kycflow keeps secrets out of its messages already; this is the CLI's second line of defence,
    since it is the CLI that put them in memory.
    """

    MASK = "***"

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str | SecretStr | None) -> None:
        """Remember a secret (short values are not worth scrubbing: they match everywhere)."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw and len(raw) >= 4:
            self._values.add(raw)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret masked, longest first."""
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, self.MASK)
        return text

    def clear(self) -> None:
        """Forget every secret (between in-process runs of ``main``)."""
        self._values.clear()


secrets = Secrets()
