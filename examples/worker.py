"""Many verifications at once over one client: the pattern of a background worker.

    python examples/worker.py [--users 50] [--concurrency 10] [--review-delay 2]

Starts kycflow's sandbox, creates ``--users`` users and verifies them all with the sample
documents, at most ``--concurrency`` at a time, over one ``kycflow.Client`` (one connection
pool; ``with_auth`` gives each user a cheap view). Each user whose wizard ended is handed to one
``kycflow.LevelWatcher``, which learns when the sandbox's reviewer grants "Level 1" (up to
``--review-delay`` seconds later). Prints a summary and exits 1 if any failed or was not granted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import kycflow
from kycflow.testing import Review, Sandbox, Scenario

# Poll a user 0.2 s after its wizard ended, backing off to 2 s (a production worker would use
# the watcher's default: 5 s, doubling up to an hour).
WATCH_POLL = kycflow.PollPolicy(initial=0.2, factor=1.5, maximum=2.0)


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
    watcher: kycflow.LevelWatcher,
) -> Outcome:
    """One user's whole wizard, inside the concurrency limit, then watched for the grant."""
    async with limit:
        auth = kycflow.BearerToken(token)
        try:
            result = await kycflow.WizardRunner(client.with_auth(auth), provider, deadline=60).run()
        except kycflow.KycflowError as exc:
            return Outcome(email, ok=False, error=f"{type(exc).__name__}: {exc}")
    if result.done:
        watcher.add(email, auth, level="Level 1")  # the review comes later: watch for it
    return Outcome(email, ok=result.done, steps=len(result.steps), retries=result.retries)


async def main(users: int, concurrency: int, review_delay: float) -> int:
    kycflow.configure_logging("WARNING")  # one line per request would drown the summary
    provider = kycflow.DirectoryProvider(str(resources.files("kycflow") / "assets"))
    limit = asyncio.Semaphore(concurrency)
    review = Review(delay=review_delay / 4, delay_max=review_delay, seed=1)
    started = time.perf_counter()
    granted: dict[str, float] = {}

    def on_grant(event: kycflow.LevelGranted) -> None:
        granted[event.key] = time.time()  # wall clock, like the sandbox's review log

    scenario = dataclasses.replace(Scenario.default(), review=review)
    async with Sandbox(scenario) as sandbox, kycflow.Client(sandbox.base_url) as client:
        accounts = sandbox.create_users(users)
        watcher = kycflow.LevelWatcher(client, on_grant=on_grant, poll=WATCH_POLL, max_rps=100)
        async with watcher:
            outcomes = await asyncio.gather(
                *(
                    verify_one(client, u.email, u.access_token, provider, limit, watcher)
                    for u in accounts
                )
            )
            with contextlib.suppress(TimeoutError):  # reported below as users not granted
                await asyncio.wait_for(watcher.join(), timeout=review_delay + 30)
        duplicates = len(sandbox.duplicates())
        reviews = {r.email: r.at for r in sandbox.review_log()}
    elapsed = time.perf_counter() - started

    done = sum(o.ok for o in outcomes)
    errors = Counter(o.error.split(":")[0] for o in outcomes if not o.ok)
    print(f"users:       {users} (at most {concurrency} at a time)")
    print(f"verified:    {done}")
    print(f"failed:      {users - done} {dict(errors) if errors else ''}".rstrip())
    print(f"steps:       {sum(o.steps for o in outcomes)}")
    print(f"retries:     {sum(o.retries for o in outcomes)}")
    print(f"duplicates:  {duplicates}")
    print(f"granted:     {len(granted)} (after the sandbox's review)")
    print(f"requests:    {watcher.requests} history reads by the watcher")
    lags = [seen - reviews[key] for key, seen in granted.items() if key in reviews]
    if lags:
        print(f"seen after:  median {statistics.median(lags):.2f}s, max {max(lags):.2f}s")
    print(f"elapsed:     {elapsed:.2f}s")
    return 0 if done == users == len(granted) and duplicates == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--review-delay", type=float, default=2.0, help="longest review (s)")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.users, options.concurrency, options.review_delay)))
