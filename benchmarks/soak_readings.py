"""Soak WizardRunner at DEFAULT settings under every reading of the wizard envelope.

    python benchmarks/soak_readings.py --flows 500 --fault-rate 0.3 --seed 5

Default ``Client`` and ``WizardRunner`` settings, real sleeps; the sandbox injects
``--fault-rate`` transient faults spread over every kind on every request, and answers submits
in each reading of NOTES.md (``echo``, ``next_step``, ``empty_202``, ``empty_204``). Every flow
must complete (``outcome == "completed"``) with zero duplicate and zero skipped steps; the
script prints one line per reading and exits non-zero otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from importlib import resources

import kycflow
from kycflow.testing import FaultKind, Faults, Quirks, Sandbox, Scenario
from kycflow.testing.scenario import SUBMIT_REPLIES


def _documents() -> dict[int | str, tuple[str, bytes]]:
    assets = resources.files("kycflow") / "assets"
    names = {2: "passport.jpg", 1: "id_card.jpg", 3: "selfie.jpg", 4: "proof_of_address.pdf"}
    return {key: (name, (assets / name).read_bytes()) for key, name in names.items()}


async def soak(flows: int, rate: float, seed: int, reading: str) -> bool:
    """Run ``flows`` flows at once under ``reading``; print a line; True if all completed."""
    faults = Faults.uniform(
        rate, seed=seed, kinds=[k.value for k in FaultKind], retry_after=0, slow_delay=0.02
    )
    scenario = dataclasses.replace(Scenario.default(), quirks=Quirks(submit_reply=reading))  # type: ignore[arg-type]
    failed: list[str] = []
    async with Sandbox(scenario, faults=faults) as sb:
        users = sb.create_users(flows)
        provider = kycflow.MemoryProvider(_documents())
        started = time.monotonic()
        async with kycflow.Client(sb.base_url) as client:  # default settings

            async def flow(user: kycflow.testing.SandboxUser) -> None:
                view = client.with_auth(kycflow.BearerToken(user.access_token))
                try:
                    result = await kycflow.WizardRunner(view, provider).run()  # defaults
                except kycflow.KycflowError as exc:
                    failed.append(f"{user.email}: {type(exc).__name__}: {exc}")
                    return
                if not result.succeeded:
                    failed.append(f"{user.email}: {result.outcome}")

            await asyncio.gather(*(flow(u) for u in users))
        wall = time.monotonic() - started
        completed = sum(1 for u in users if sb.completed_procedures(u))
        duplicates, problems = len(sb.duplicates()), len(sb.records.problems())
        print(
            f"reading={reading:<9} fault_rate={rate:.2f} seed={seed}: "
            f"{completed}/{flows} completed ({100 * completed / flows:.1f} %), "
            f"failed={len(failed)}, "
            f"duplicates={duplicates}, skipped={problems}, faults={len(sb.faults_injected())}, "
            f"wall={wall:.1f}s"
        )
        for line in failed[:5]:
            print("  FAILED", line)
        return completed == flows and not failed and duplicates == 0 and problems == 0


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument("--fault-rate", type=float, action="append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reading", choices=SUBMIT_REPLIES, action="append")
    args = parser.parse_args(argv)
    ok = True
    for reading in args.reading or SUBMIT_REPLIES:
        for rate in args.fault_rate or [0.2, 0.3]:
            ok = asyncio.run(soak(args.flows, rate, args.seed, reading)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
