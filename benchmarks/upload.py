"""A 512 MB document through ``client.files.upload`` against a raw aiohttp streamed upload.

The document is a sparse temporary file with a JPEG header (so validation passes), deleted at the
end. Each upload runs in a fresh child process, which reports its peak RSS growth (VmHWM, reset
just before the upload where the kernel allows it) and the upload's wall time; the sandbox (its
own process, reading the body in chunks and keeping only a digest) records the size it got.
Modes alternate, several rounds; medians are reported.

    python benchmarks/upload.py                       # 512 MiB, 5 rounds
    python benchmarks/upload.py --size-mb 1024 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench

import kycflow

MODES = ("kycflow", "raw aiohttp")
MiB = 1024 * 1024


def make_document(directory: str, size: int) -> Path:
    """A sparse file of ``size`` bytes that starts like a JPEG."""
    path = Path(directory) / "big_document.jpg"
    with path.open("wb") as handle:
        handle.write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        handle.truncate(size)
    return path


def _reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _child_kycflow(url: str, token: str, path: Path, size: int) -> dict[str, Any]:
    async with kycflow.Client(
        url, auth=kycflow.BearerToken(token), max_upload_bytes=size + MiB
    ) as client:
        await client.wizard.start()  # opens the connection, as the raw mode does
        before = _bench.proc_status()
        reset = _reset_peak()
        started = time.perf_counter()
        stored = await client.files.upload(path)
        seconds = time.perf_counter() - started
    return {"before": before, "reset": reset, "seconds": seconds, "stored": stored}


async def _child_raw(url: str, token: str, path: Path, size: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(url + "/v2/my/verifications/wizard", headers=headers) as resp:
            await resp.read()
        before = _bench.proc_status()
        reset = _reset_peak()
        started = time.perf_counter()
        with path.open("rb") as handle:
            writer = aiohttp.MultipartWriter("form-data")
            part = writer.append(handle, {"Content-Type": "image/jpeg"})
            part.set_content_disposition("form-data", name="file", filename=path.name)
            async with session.post(url + "/v2/my/files", data=writer, headers=headers) as resp:
                if resp.status not in (200, 201):
                    raise SystemExit(f"raw upload: HTTP {resp.status}")
                stored = (await resp.json())["data"]["file"]
        seconds = time.perf_counter() - started
    return {"before": before, "reset": reset, "seconds": seconds, "stored": stored}


def child(args: argparse.Namespace) -> None:
    """One upload in this (fresh) process; prints a JSON line."""
    run = _child_kycflow if args.child == "kycflow" else _child_raw
    result = asyncio.run(run(args.url, args.token, Path(args.file), args.size))
    result["after"] = _bench.proc_status()
    print(json.dumps(result))


def spawn(mode: str, url: str, token: str, path: Path, size: int, cpus: set[int] | None) -> Any:
    cmd = [sys.executable, __file__, "--child", mode, "--url", url, "--token", token]
    cmd += ["--file", str(path), "--size", str(size)]

    def preexec() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    out = subprocess.run(cmd, capture_output=True, text=True, check=True, preexec_fn=preexec)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def parent(args: argparse.Namespace) -> None:
    size = args.size_mb * MiB
    print(f"machine: {_bench.machine_note()}")
    client_cpus, sandbox_cpus, pin_note = _bench.cpu_plan(not args.no_pin)
    print(f"cpus: {pin_note} (each upload in a fresh child process)")
    print(f"document: {args.size_mb} MiB sparse JPEG, {args.rounds} rounds per mode\n")
    rows: list[tuple[object, ...]] = []
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with (
        tempfile.TemporaryDirectory(prefix="kycflow-bench-") as tmp,
        _bench.sandbox_process(cpus=sandbox_cpus, max_upload_bytes=size + MiB) as sandbox,
    ):
        path = make_document(tmp, size)
        async with _bench.Admin(sandbox) as admin:
            tokens = await admin.create_tokens(2 * args.rounds)
            for number in range(1, args.rounds + 1):
                order = MODES if number % 2 else tuple(reversed(MODES))
                for mode in order:
                    token = tokens.pop()
                    res = await asyncio.to_thread(
                        spawn, mode, sandbox.base_url, token, path, size, client_cpus
                    )
                    before = res["before"]["VmRSS"]
                    peak = res["after"]["VmHWM"]
                    stats = {
                        "mb_s": size / MiB / res["seconds"],
                        "growth_mib": (peak - before) / 1024,
                        "seconds": res["seconds"],
                    }
                    results[mode].append(stats)
                    rows.append(
                        (
                            number,
                            mode,
                            stats["mb_s"],
                            stats["seconds"],
                            before / 1024,
                            peak / 1024,
                            stats["growth_mib"],
                            "yes" if res["reset"] else "no (growth over process start)",
                        )
                    )
            records = await admin.records()
    sizes = [u["size"] for u in records["uploads"]]
    print(
        _bench.table(
            [
                "round",
                "mode",
                "MiB/s",
                "seconds",
                "RSS before (MiB)",
                "VmHWM (MiB)",
                "peak growth (MiB)",
                "HWM reset",
            ],
            rows,
        )
    )
    summary = [
        (
            mode,
            _bench.median([r["mb_s"] for r in runs]),
            _bench.median([r["growth_mib"] for r in runs]),
            max(r["growth_mib"] for r in runs),
        )
        for mode, runs in results.items()
    ]
    print()
    print(
        _bench.table(
            ["mode", "median MiB/s", "median peak growth (MiB)", "max peak growth (MiB)"], summary
        )
    )
    ratios = [
        k["mb_s"] / r["mb_s"]
        for k, r in zip(results["kycflow"], results["raw aiohttp"], strict=True)
    ]
    print(
        f"\nkycflow / raw aiohttp MiB/s: median of per-round ratios {_bench.median(ratios):.3f} "
        f"(target >= 0.90); kycflow peak RSS growth max {summary[0][3]:.1f} MiB (target <= 32 MB)"
    )
    print(
        f"sandbox stored {len(sizes)} uploads, all of {size} bytes: "
        f"{len(sizes) == 2 * args.rounds and all(s == size for s in sizes)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=512, help="document size in MiB")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and sandbox")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        asyncio.run(parent(args))


if __name__ == "__main__":
    main()
