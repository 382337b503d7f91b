"""Many verifications at once over one client: the pattern of a background worker.

    python examples/worker.py [--users 50] [--concurrency 10]

Starts kycflow's sandbox, creates ``--users`` users and verifies them all with the sample
documents, at most ``--concurrency`` at a time, over one ``kycflow.Client`` (one connection
pool; ``with_auth`` gives each user a cheap view). Prints a summary and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import kycflow
from kycflow.testing import Sandbox


@dataclass(frozen=True)
class Outcome:
    """What became of one user's run."""

    email: str
    ok: bool
    steps: int = 0
    retries: int = 0
    error: str = ""


async def verify_one(
    client: kycflow.Client,
    email: str,
    token: str,
    provider: kycflow.FileProvider,
    limit: asyncio.Semaphore,
) -> Outcome:
    """One user's whole wizard, inside the concurrency limit; errors become an Outcome."""
    async with limit:
        user = client.with_auth(kycflow.BearerToken(token))
        try:
            result = await kycflow.WizardRunner(user, provider, deadline=60).run()
        except kycflow.KycflowError as exc:
            return Outcome(email, ok=False, error=f"{type(exc).__name__}: {exc}")
        return Outcome(email, ok=result.done, steps=len(result.steps), retries=result.retries)


async def main(users: int, concurrency: int) -> int:
    kycflow.configure_logging("WARNING")  # one line per request would drown the summary
    provider = kycflow.DirectoryProvider(str(resources.files("kycflow") / "assets"))
    limit = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    async with Sandbox() as sandbox, kycflow.Client(sandbox.base_url) as client:
        accounts = sandbox.create_users(users)
        outcomes = await asyncio.gather(
            *(verify_one(client, u.email, u.access_token, provider, limit) for u in accounts)
        )
        duplicates = len(sandbox.duplicates())
    elapsed = time.perf_counter() - started

    done = sum(o.ok for o in outcomes)
    errors = Counter(o.error.split(":")[0] for o in outcomes if not o.ok)
    print(f"users:       {users} (at most {concurrency} at a time)")
    print(f"verified:    {done}")
    print(f"failed:      {users - done} {dict(errors) if errors else ''}".rstrip())
    print(f"steps:       {sum(o.steps for o in outcomes)}")
    print(f"retries:     {sum(o.retries for o in outcomes)}")
    print(f"duplicates:  {duplicates}")
    print(f"elapsed:     {elapsed:.2f}s")
    return 0 if done == users and duplicates == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.users, options.concurrency)))
