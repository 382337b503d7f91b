"""Sessions: tests on the oldest and newest aiohttp we support, lint and typecheck.

``bash .ci/run`` runs them all (on the Python 3.11+ it finds, ``--force-python``); plain
``nox`` runs them on Python 3.11.

aioresponses 0.7.9 (its latest) breaks on aiohttp 3.14, so the suite runs twice: in full on
aiohttp 3.13.5, and on the newest aiohttp with the aioresponses-marked tests deselected (every
behaviour they cover is also covered by a loopback-server test that runs there).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True
# A session whose Python is missing fails instead of being skipped (a skipped suite passes).
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
AIOHTTP_MATRIX = {
    "aiohttp-3.13": ("aiohttp==3.13.5", []),
    "aiohttp-latest": ("aiohttp>=3.14", ["-m", "not aioresponses"]),
}


@nox.session(python=PYTHON)
@nox.parametrize("aiohttp", list(AIOHTTP_MATRIX))
def tests(session: nox.Session, aiohttp: str) -> None:
    """Run the test suite against one aiohttp version."""
    pin, extra_args = AIOHTTP_MATRIX[aiohttp]
    session.install("-e", ".[test]", pin)
    session.run("python", "-c", "import aiohttp; print('aiohttp', aiohttp.__version__)")
    session.run("pytest", *extra_args, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the library."""
    session.install("-e", ".[test]", "mypy>=1.10")
    session.run("mypy", "--strict", "src")
