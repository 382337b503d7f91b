"""Soak kycflow under injected faults: many WizardRunner flows over one client.

    python benchmarks/soak.py --flows 1000 --fault-rate 0.2 --seed 7

The sandbox injects ``--fault-rate`` transient faults, spread evenly over every kind (5xx, 429
with ``Retry-After: 0``, resets before and after the server committed, slow replies, malformed
JSON, HTML error pages) on every route. Every flow must complete, with zero duplicate submits and
zero skipped steps (the sandbox's records prove it); the script prints what happened and exits
non-zero otherwise. ``run_soak`` is what tests/reliability/test_soak.py calls.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import structlog

import kycflow
from kycflow.testing import FaultKind, Faults, Sandbox, Scenario

# Retry budgets for a 20 % fault rate. A GET fails for good only if all 1 + MAX_RETRIES
# attempts fault (0.2**9 ~ 5e-7 per call); a submit or upload whose outcome is unknown is
# reconciled and tried again up to MAX_SUBMIT_ATTEMPTS times.
MAX_RETRIES = 8
MAX_SUBMIT_ATTEMPTS = 8
# Short backoff keeps the soak fast; the sandbox's Retry-After is 0.
INITIAL_BACKOFF = 0.001
MAX_BACKOFF = 0.01
SLOW_DELAY = 0.02
CALL_TIMEOUT = 10.0


@dataclass
class SoakReport:
    """What a soak run did."""

    flows: int
    completed: int
    failed: list[str]
    faults: Counter[str]
    requests: int
    client_retries: int
    runner_retries: int
    reconciled_steps: int
    submissions: int
    duplicates: int
    problems: list[str]
    wall_time: float
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every flow completed, without duplicate or skipped step."""
        return (
            self.completed == self.flows
            and not self.failed
            and self.duplicates == 0
            and not self.problems
        )

    def table(self) -> str:
        """The report as a plain-text table."""
        rows: list[tuple[str, object]] = [
            ("flows", self.flows),
            ("completed", self.completed),
            ("failed", len(self.failed)),
            ("requests (server side)", self.requests),
            ("faults injected", sum(self.faults.values())),
        ]
        rows += [(f"  {kind}", self.faults.get(kind, 0)) for kind in _KINDS]
        rows += [
            ("client retries (http.retry)", self.client_retries),
            ("runner retries (reconcile + resend)", self.runner_retries),
            ("steps confirmed by reconciling", self.reconciled_steps),
            ("submissions committed", self.submissions),
            ("duplicate submissions", self.duplicates),
            ("skipped/out-of-order steps", len(self.problems)),
            ("wall time (s)", f"{self.wall_time:.2f}"),
            ("flows/s", f"{self.flows / self.wall_time:.1f}" if self.wall_time else "-"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        settings = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return "\n".join([f"soak: {settings}", *lines])


_KINDS = [kind.value for kind in FaultKind]


def _documents() -> dict[int | str, tuple[str, bytes]]:
    assets = resources.files("kycflow") / "assets"
    return {
        2: ("passport.jpg", (assets / "passport.jpg").read_bytes()),
        1: ("id_card.jpg", (assets / "id_card.jpg").read_bytes()),
        3: ("selfie.jpg", (assets / "selfie.jpg").read_bytes()),
        4: ("proof_of_address.pdf", (assets / "proof_of_address.pdf").read_bytes()),
    }


class _RetryCounter:
    """A structlog processor counting the transport's ``http.retry`` events."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self, logger: Any, name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if event.get("event") == "http.retry":
            self.count += 1
        raise structlog.DropEvent  # counted; nothing is rendered


async def run_soak(
    flows: int = 200,
    fault_rate: float = 0.2,
    seed: int = 1,
    *,
    concurrency: int = 50,
    max_retries: int = MAX_RETRIES,
    max_submit_attempts: int = MAX_SUBMIT_ATTEMPTS,
) -> SoakReport:
    """Run ``flows`` wizard flows (one user each, ``concurrency`` at a time) over one client
    against a sandbox injecting ``fault_rate`` faults; return the report."""
    counter = _RetryCounter()
    structlog.configure(
        processors=[counter],
        wrapper_class=structlog.make_filtering_bound_logger(20),
        cache_logger_on_first_use=False,
    )
    faults = Faults.uniform(
        fault_rate, seed=seed, kinds=_KINDS, retry_after=0, slow_delay=SLOW_DELAY
    )
    docs = _documents()
    failed: list[str] = []
    runner_retries = 0
    reconciled = 0
    try:
        async with Sandbox(Scenario.default(), faults=faults, keep_requests=True) as sb:
            users = sb.create_users(flows)
            client = kycflow.Client(
                sb.base_url,
                timeout=CALL_TIMEOUT,
                max_retries=max_retries,
                initial_backoff=INITIAL_BACKOFF,
                max_backoff=MAX_BACKOFF,
                rng=random.Random(seed),
            )
            provider = kycflow.MemoryProvider(docs)
            gate = asyncio.Semaphore(concurrency)

            async def flow(user_index: int) -> None:
                nonlocal runner_retries, reconciled
                user = users[user_index]
                view = client.with_auth(kycflow.BearerToken(user.access_token))
                runner = kycflow.WizardRunner(
                    view, provider, max_submit_attempts=max_submit_attempts, deadline=120.0
                )
                async with gate:
                    try:
                        result = await runner.run()
                    except kycflow.KycflowError as exc:
                        failed.append(f"{user.email}: {type(exc).__name__}: {exc}")
                        return
                runner_retries += result.retries
                reconciled += sum(1 for s in result.steps if s.reconciled)
                if not result.done:
                    failed.append(f"{user.email}: not done")

            started = time.monotonic()
            async with client:
                await asyncio.gather(*(flow(i) for i in range(flows)))
            wall = time.monotonic() - started
            completed = sum(1 for u in users if sb.completed_procedures(u))
            faults_by_kind: Counter[str] = Counter(
                r.fault for r in sb.faults_injected() if r.fault is not None
            )
            return SoakReport(
                flows=flows,
                completed=completed,
                failed=failed,
                faults=faults_by_kind,
                requests=len(sb.requests()),
                client_retries=counter.count,
                runner_retries=runner_retries,
                reconciled_steps=reconciled,
                submissions=len(sb.submissions()),
                duplicates=len(sb.duplicates()),
                problems=sb.records.problems(),
                wall_time=wall,
                settings={
                    "fault_rate": fault_rate,
                    "seed": seed,
                    "concurrency": concurrency,
                    "max_retries": max_retries,
                    "max_submit_attempts": max_submit_attempts,
                    "backoff": f"{INITIAL_BACKOFF}-{MAX_BACKOFF}s",
                    "retry_after": 0,
                    "slow_delay": SLOW_DELAY,
                },
            )
    finally:
        structlog.reset_defaults()


def main(argv: list[str] | None = None) -> int:
    """The command line: run one soak and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-retries", type=int, default=MAX_RETRIES)
    parser.add_argument("--max-submit-attempts", type=int, default=MAX_SUBMIT_ATTEMPTS)
    args = parser.parse_args(argv)
    report = asyncio.run(
        run_soak(
            args.flows,
            args.fault_rate,
            args.seed,
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            max_submit_attempts=args.max_submit_attempts,
        )
    )
    print(report.table())
    for line in report.failed[:10]:
        print("FAILED", line)
    for line in report.problems[:10]:
        print("PROBLEM", line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
