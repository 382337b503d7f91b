"""Sessions: tests on the oldest and newest aiohttp we support, lint and typecheck.

``bash .ci/run`` runs them all (on the Python 3.11+ it finds, ``--force-python``); plain
``nox`` runs them on Python 3.11.

The suite runs on the oldest aiohttp ``pyproject.toml`` declares (3.10, its latest patch) and on
the newest. Tests marked ``aioresponses`` (failures a loopback server cannot stage: DNS, TLS,
unreachable networks) run on the oldest only, as aioresponses 0.7.9 breaks on aiohttp 3.14.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True
# A session whose Python is missing fails instead of being skipped (a skipped suite passes).
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
# name: (pip requirement, pip options, pytest options). "--upgrade": a reused virtualenv still
# gets the newest release.
AIOHTTP_MATRIX = {
    "aiohttp-oldest": ("aiohttp==3.10.*", [], []),
    "aiohttp-newest": ("aiohttp>=3.14", ["--upgrade"], ["-m", "not aioresponses"]),
}


@nox.session(python=PYTHON)
@nox.parametrize("aiohttp", list(AIOHTTP_MATRIX))
def tests(session: nox.Session, aiohttp: str) -> None:
    """Run the test suite against one aiohttp version."""
    pin, pip_args, extra_args = AIOHTTP_MATRIX[aiohttp]
    session.install("-e", ".[test]")
    session.install(*pip_args, pin)
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
