"""Outage: 1,000 wizard runs in flight against a server that fails every request for a while,
then recovers. No retry storm: retries stay a bounded fraction of first attempts, and runs
complete as soon as the server is back.

    python benchmarks/outage.py --runs 1000 --outage 5 --rounds 3

Each round runs the same load twice, interleaved: once with the client's default retry budget
(the AWS SDKs' standard retry quota, ``kycflow.flow_control.RetryBudget``) and once without
(``RetryBudget(capacity=None)``, the baseline: every retry the per-call policy allows). The
sandbox answers every request with 503 for ``--outage`` seconds. Client and runner use their
defaults. A run that ends on a transient error is started again ``--restart-delay`` seconds
later from its checkpoint, as a job queue would (arq retries a job); those restarts are first
attempts to the transport, so the figure compares what the transport adds on top of them.

A third mode runs the same load without an outage: the time it takes is the yardstick of
"runs recover as soon as the server does" (the backlog should clear in about that time).

Printed per mode: server requests during the outage, the transport's first attempts and
retries during the outage and their ratio, and the seconds from the server's recovery (for the
no-outage mode: from the start) to the last run's completion.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from importlib import resources

import structlog

import kycflow
from kycflow._http.flow_control import RetryBudget
from kycflow.testing import Faults, Sandbox, Scenario

TRANSIENT = (
    kycflow.APIConnectionError,
    kycflow.ServerError,
    kycflow.RateLimitError,
    kycflow.OutcomeUnknownError,
)


@dataclass
class Round:
    """One mode's figures in one round."""

    mode: str
    outage_requests: int
    first_attempts: int
    retries: int
    completed: int
    failed: int
    duplicates: int
    recovery: float
    """Seconds from the end of the outage to the last run's completion."""

    @property
    def ratio(self) -> float:
        return self.retries / self.first_attempts if self.first_attempts else 0.0


def _documents() -> dict[int | str, tuple[str, bytes]]:
    assets = resources.files("kycflow") / "assets"
    return {
        2: ("passport.jpg", (assets / "passport.jpg").read_bytes()),
        1: ("id_card.jpg", (assets / "id_card.jpg").read_bytes()),
        3: ("selfie.jpg", (assets / "selfie.jpg").read_bytes()),
        4: ("proof_of_address.pdf", (assets / "proof_of_address.pdf").read_bytes()),
    }


async def one_round(mode: str, runs: int, outage: float, restart_delay: float) -> Round:
    """``runs`` runs through one client while the sandbox fails everything for ``outage`` s."""
    budget = RetryBudget(capacity=None) if mode == "no budget" else RetryBudget()
    outage = 0.0 if mode == "no outage" else outage
    provider = kycflow.MemoryProvider(_documents())
    store = kycflow.MemoryCheckpointStore()
    async with Sandbox(Scenario.default(), keep_requests=True) as sb:
        users = sb.create_users(runs)
        done_at: list[float] = []
        failed = 0
        snapshot: list[int] = []
        async with kycflow.Client(sb.base_url, retry_budget=budget) as client:

            async def run(index: int) -> None:
                nonlocal failed
                view = client.with_auth(kycflow.BearerToken(users[index].access_token))
                runner = kycflow.WizardRunner(
                    view, provider, checkpoint_store=store, checkpoint_key=f"u{index}"
                )
                deadline = time.monotonic() + 300
                while True:
                    try:
                        await runner.run()
                    except TRANSIENT:
                        if time.monotonic() > deadline:
                            failed += 1
                            return
                        await asyncio.sleep(restart_delay)
                        continue
                    except kycflow.KycflowError:
                        failed += 1
                        return
                    done_at.append(time.monotonic())
                    return

            async def watch() -> None:
                await asyncio.sleep(outage)
                snapshot.extend((budget.first_attempts, budget.retries))

            if outage:
                sb.set_faults(Faults().add_window("5xx", seconds=outage, status=503))
            started = time.monotonic()
            await asyncio.gather(watch(), *(run(i) for i in range(runs)))
        recovered_at = started + outage
        return Round(
            mode=mode,
            outage_requests=len(sb.faults_injected()),
            first_attempts=snapshot[0],
            retries=snapshot[1],
            completed=len(done_at),
            failed=failed,
            duplicates=len(sb.duplicates()),
            recovery=max(done_at) - recovered_at if done_at else float("nan"),
        )


def table(rounds: list[Round]) -> str:
    """Medians per mode, and the budget's retries against the baseline's."""
    lines = [
        "| mode | server requests in outage | first attempts | retries | retries / first "
        "attempts | runs completed | failed | duplicates | recovery to last completion (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_mode: dict[str, list[Round]] = {}
    for r in rounds:
        by_mode.setdefault(r.mode, []).append(r)
    for mode, rs in by_mode.items():

        def med(values: list[float]) -> float:
            return statistics.median(values)

        lines.append(
            f"| {mode} | {med([r.outage_requests for r in rs]):.0f} "
            f"| {med([r.first_attempts for r in rs]):.0f} | {med([r.retries for r in rs]):.0f} "
            f"| {med([r.ratio for r in rs]):.3f} | {med([r.completed for r in rs]):.0f} "
            f"| {med([r.failed for r in rs]):.0f} | {med([r.duplicates for r in rs]):.0f} "
            f"| {med([r.recovery for r in rs]):.2f} |"
        )
    base = by_mode.get("no budget", [])
    with_budget = by_mode.get("budget", [])
    if base and with_budget:
        ratio = statistics.median(
            b.retries / n.retries if n.retries else 0.0
            for b, n in zip(with_budget, base, strict=False)
        )
        lines.append(f"\nretries with the budget / without (median of rounds): {ratio:.3f}")
    clean = by_mode.get("no outage", [])
    if with_budget and clean:
        ratio = statistics.median(
            b.recovery / c.recovery for b, c in zip(with_budget, clean, strict=False)
        )
        lines.append(
            f"recovery to last completion / the same load without an outage (median): {ratio:.3f}"
        )
    return "\n".join(lines)


async def main_async(runs: int, outage: float, rounds: int, restart_delay: float) -> str:
    results: list[Round] = []
    for i in range(rounds):
        order = ["budget", "no budget", "no outage"]
        order = order if i % 2 == 0 else order[::-1]
        for mode in order:
            results.append(await one_round(mode, runs, outage, restart_delay))
            print(results[-1], file=sys.stderr)
    return table(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--restart-delay", type=float, default=1.0)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    print(f"outage: {args.runs} runs, {args.outage} s of 503 on every request, defaults")
    print(asyncio.run(main_async(args.runs, args.outage, args.rounds, args.restart_delay)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
