"""Soak kycflow under injected faults: many WizardRunner flows over one client, DEFAULT settings.

    python benchmarks/soak.py --flows 1000 --fault-rate 0.2 --seed 7 [--accept-repeats]

The client and the runner run with their defaults (what users run); the sandbox with its own
(``Retry-After: 1``, slow replies of 0.5 s, late commits 1.5 s after their 500/504). It injects
``--fault-rate`` faults, spread evenly over every kind, on every route: 5xx, 429, resets before
and after the server committed, slow replies, malformed JSON, HTML error pages, and the faults
after which the server did commit: 503/429/500 answered after committing, and late commits.
``--accept-repeats`` makes the sandbox accept a repeated submit (a duplicate, counted) instead of
refusing it with 409, so a resend cannot hide behind the 409. Every flow must complete, with zero
duplicate submits and zero skipped steps (the sandbox's records prove it); the script prints what
happened and exits non-zero otherwise. ``run_soak`` is what tests/reliability/test_soak.py calls.
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
    errors: Counter[str] = field(default_factory=Counter)
    """Failed flows by error class."""
    budget: tuple[int, int, int] = (0, 0, 0)
    """The client's retry budget: (first attempts, retries, retries refused)."""

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
            ("  retry budget: calls / retries / refused", " / ".join(map(str, self.budget))),
            ("runner retries (reconcile + resend)", self.runner_retries),
            ("steps confirmed by reconciling", self.reconciled_steps),
            ("submissions committed", self.submissions),
            ("duplicate submissions", self.duplicates),
            *((f"  failed on {name}", n) for name, n in sorted(self.errors.items())),
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
    accept_repeats: bool = False,
    kinds: list[str] | None = None,
    client_options: dict[str, Any] | None = None,
    runner_options: dict[str, Any] | None = None,
) -> SoakReport:
    """Run ``flows`` wizard flows (one user each, ``concurrency`` at a time) over one client
    against a sandbox injecting ``fault_rate`` faults of ``kinds`` (default: every kind);
    return the report. ``client_options``/``runner_options`` override the defaults (the
    README's tables and the soak test use none)."""
    counter = _RetryCounter()
    structlog.configure(
        processors=[counter],
        wrapper_class=structlog.make_filtering_bound_logger(20),
        cache_logger_on_first_use=False,
    )
    faults = Faults.uniform(fault_rate, seed=seed, kinds=kinds or _KINDS)
    docs = _documents()
    failed: list[str] = []
    runner_retries = 0
    reconciled = 0
    try:
        async with Sandbox(
            Scenario.default(), faults=faults, keep_requests=True, accept_repeats=accept_repeats
        ) as sb:
            users = sb.create_users(flows)
            client = kycflow.Client(sb.base_url, rng=random.Random(seed), **(client_options or {}))
            provider = kycflow.MemoryProvider(docs)
            gate = asyncio.Semaphore(concurrency)

            async def flow(user_index: int) -> None:
                nonlocal runner_retries, reconciled
                user = users[user_index]
                view = client.with_auth(kycflow.BearerToken(user.access_token))
                runner = kycflow.WizardRunner(view, provider, **(runner_options or {}))
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
            budget = client.transport.retry_budget
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
                    "server": "accepts repeats" if accept_repeats else "refuses repeats (409)",
                    "client": client_options or "defaults",
                    "runner": runner_options or "defaults",
                },
                errors=Counter(line.split(": ")[1] for line in failed),
                budget=(budget.first_attempts, budget.retries, budget.denied),
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
    parser.add_argument("--accept-repeats", action="store_true")
    parser.add_argument("--kinds", help="comma-separated fault kinds (default: all)")
    args = parser.parse_args(argv)
    report = asyncio.run(
        run_soak(
            args.flows,
            args.fault_rate,
            args.seed,
            concurrency=args.concurrency,
            accept_repeats=args.accept_repeats,
            kinds=args.kinds.split(",") if args.kinds else None,
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
