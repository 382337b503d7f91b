"""WizardRunner: drives the verification wizard from its first step to its end.

Each step: pick one of the step's enabled document types that the file provider can supply,
validate its files (with the client's limits), upload them (concurrently, bounded), submit them,
and learn the next page: the submit reply when it carries Document Type objects, else the wizard
read again. Only code 202 ends the wizard. A reply asking for the same step again is a refusal:
nothing is committed, the next supplied type is tried. Submits are made exactly once: when a
submit's outcome is unknown, the runner settles, re-reads the wizard and resends only if the
server still shows the step. Transient failures are retried while the run's deadline allows.
Progress is saved to a checkpoint after every upload and around every submit, so a crashed run
can resume.

The runner uses only the client's public API (``client.wizard.start``, ``client.wizard.submit``,
``client.files.upload``), typed by the small ``WizardClient`` protocol (in ``results``). Its
options are one frozen ``RunnerOptions``; each ``run()`` is a ``Run`` (``run.py``).
"""

from __future__ import annotations

import contextlib
import random
import uuid as uuid_lib
from collections.abc import Awaitable, Callable
from dataclasses import fields
from operator import is_

from structlog.contextvars import bind_contextvars, reset_contextvars

from .. import _telemetry as telemetry
from .._constants import (
    DEFAULT_MAX_STEPS,
    DEFAULT_MAX_SUBMIT_ATTEMPTS,
    DEFAULT_RUN_DEADLINE,
    DEFAULT_SETTLE_DELAY,
    DEFAULT_STALL_LIMIT,
    DEFAULT_UPLOAD_CONCURRENCY,
)
from ..errors import ConfigurationError
from .checkpoint import CheckpointStore
from .choosing import Chooser
from .leases import LeasingStore, hold_lease
from .options import RunnerOptions
from .providers import FileProvider
from .reporting import Reporter
from .results import (
    EventCallback,
    StepResult,
    TypePolicy,
    WizardClient,
    WizardResult,
    first_supplied,
)
from .results import FilesAPI as FilesAPI
from .results import WizardAPI as WizardAPI
from .run import Run

__all__ = [
    "EventCallback",
    "RunnerOptions",
    "StepResult",
    "TypePolicy",
    "WizardClient",
    "WizardResult",
    "WizardRunner",
    "first_supplied",
]

_DEFAULTS = RunnerOptions()
# Each option's name and default: the very objects ``WizardRunner``'s keywords default to (a
# test holds them to ``__kwdefaults__``).
_OPTION_NAMES = tuple(option.name for option in fields(RunnerOptions))
_DEFAULT_ARGS = tuple(getattr(_DEFAULTS, name) for name in _OPTION_NAMES)
_SILENT = Reporter(None)  # stateless: shared by runners without a callback
_NO_LEASE = contextlib.nullcontext()


class WizardRunner:
    """Drives a user's verification wizard to its end with documents from ``provider``.

    ``client`` is a ``kycflow.Client`` authenticated as the user (or anything with its
    ``wizard``/``files`` API). Options (keywords, or one ``options=RunnerOptions(...)``):

    - ``max_steps``: at most this many committed steps (``WizardStepLimitError``).
    - ``deadline``: seconds for the whole run, ``None`` for none (``WizardDeadlineError``).
    - ``on_event``: a sync or async callable given every ``WizardEvent``; its exceptions are
      logged and ignored.
    - ``checkpoint_store``/``checkpoint_key``: where progress is saved and resumed from (a key
      is required with a store). Without a store, progress lives only in memory for the run.
    - ``type_policy``: picks the type to submit (default ``first_supplied``). A step resumed from
      a checkpoint keeps the type it was started with, so its stored files are reused.
    - ``upload_concurrency``: uploads in flight at once within a step.
    - ``stall_limit``: a step refused (asked again) this many times in a row raises
      ``StepRefusedError`` (a ``WizardStalledError``). After each refusal (a ``StepRefused``
      event with the server's reason) the runner tries another supplied type, never one type
      twice for one step; with none left it raises ``StepRefusedError`` with the reason.
    - ``max_submit_attempts``: how many 409/400 answers to resends are reconciled while the
      wizard still shows the step, before the error is raised.
    - ``settle_delay``: seconds to wait after an ambiguous submit (timeout, reset, 429, 5xx,
      an empty 2xx reply) before reading the wizard, so that a server still processing the
      request can commit it first; doubled per further attempt up to 30 s. Also waited on
      resume when the checkpoint says a submit was in flight.
    - ``run_id``: the id of the runs (default: a fresh one per run).
    - ``sleep``/``rng``: the waits' clock (default ``asyncio.sleep``) and randomness (inject
      a fake clock in tests).

    Transient failures of idempotent calls (reading the wizard, uploads, an upload whose
    outcome is unknown included) are retried with capped exponential backoff and full jitter
    while ``deadline`` allows; the run fails only on a non-transient error, or at its deadline
    with ``WizardDeadlineError`` naming the last transient failure.

    Reconciliation assumes what the wizard contract promises: a committed submit changes the
    step (its uuid, code, workflow or types) or, by re-asking, is indistinguishable from a
    refusal. A server that commits an ambiguous submit later than the settle delay can still
    see a resend; it refuses it as a conflict (409) or as invalid (400), which the runner
    reconciles by reading the wizard.
    """

    __slots__ = ("_chooser", "_reporter", "client", "options", "provider")

    def __init__(
        self,
        client: WizardClient,
        provider: FileProvider,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        deadline: float | None = DEFAULT_RUN_DEADLINE,
        on_event: EventCallback | None = None,
        checkpoint_store: CheckpointStore | None = None,
        checkpoint_key: str | None = None,
        type_policy: TypePolicy = first_supplied,
        upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
        stall_limit: int = DEFAULT_STALL_LIMIT,
        max_submit_attempts: int = DEFAULT_MAX_SUBMIT_ATTEMPTS,
        settle_delay: float = DEFAULT_SETTLE_DELAY,
        run_id: str | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        options: RunnerOptions | None = None,
    ) -> None:
        given = locals()  # the arguments by name: each option is looked up by its field's name
        if all(map(is_, map(given.__getitem__, _OPTION_NAMES), _DEFAULT_ARGS)):
            # A runner is often made per run: the defaults themselves need no options built.
            built = _DEFAULTS
        else:
            built = RunnerOptions(**{name: given[name] for name in _OPTION_NAMES})
            if built == _DEFAULTS:
                built = _DEFAULTS  # one shared object: a runner may be made per run
            elif options is not None:
                raise ConfigurationError("pass options= or the options' keywords, not both")
        self.client = client
        self.provider = provider
        self.options: RunnerOptions = options if options is not None else built
        self._chooser = Chooser(provider, self.options.type_policy)
        on_event = self.options.on_event
        self._reporter = _SILENT if on_event is None else Reporter(on_event)

    def __repr__(self) -> str:
        key = self.options.checkpoint_key
        return f"WizardRunner(provider={self.provider!r}, checkpoint_key={key!r})"

    async def run(self) -> WizardResult:
        """Drive the wizard to its final step and return what was done.

        The result's ``outcome`` tells a success from a wizard that ended (202) without one.
        Raises ``MissingDocumentError``, ``DocumentError``, ``StepRefusedError``,
        ``UnsupportedWizardError``, ``WizardStepLimitError``, ``WizardDeadlineError``,
        ``ProtocolError`` or the client's non-transient error that ended the run; the
        checkpoint then holds everything known to be stored or committed. Cancellation
        propagates after the step's uploads are cancelled.
        """
        options = self.options
        run_id = options.run_id or uuid_lib.uuid4().hex
        run = Run(self.client, self._chooser, self._reporter, options, run_id)
        store, key = options.checkpoint_store, options.checkpoint_key
        # One run per key: a store that leases holds the key for the whole run. Without one,
        # no context manager is made: thousands of runs may be waiting at once.
        lease = (
            hold_lease(store, key, run_id)
            if key is not None and isinstance(store, LeasingStore)
            else _NO_LEASE
        )
        async with lease:
            tokens = bind_contextvars(run_id=run_id)
            try:
                with telemetry.run_span(run_id, run.state):
                    return await run.execute()
            finally:
                reset_contextvars(**tokens)
