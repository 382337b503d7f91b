"""Peak memory of ``files.upload``: streamed from disk vs the same file read into memory.

A local aiohttp.web server runs in a separate process and hashes then discards what it
receives. Each mode runs in a fresh child process, which reports the growth of its peak RSS
(VmHWM in /proc/self/status, reset through /proc/self/clear_refs just before the upload).

    python benchmarks/upload_memory.py --size-mb 200
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_MB = 32.0
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _serve(port_queue: Any) -> None:
    from aiohttp import web

    async def upload(request: web.Request) -> web.Response:
        reader = await request.multipart()
        part = await reader.next()
        digest = hashlib.sha256()
        size = 0
        while chunk := await part.read_chunk(1 << 16):  # type: ignore[union-attr]
            digest.update(chunk)
            size += len(chunk)
        return web.json_response(
            {"data": {"file": f"bench/{size}/{digest.hexdigest()[:16]}"}}, status=201
        )

    async def main() -> None:
        app = web.Application(client_max_size=1 << 40)
        app.router.add_post("/api/v2/my/files", upload)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def _child(mode: str, url: str, path: Path) -> dict[str, Any]:
    import kycflow

    size = (await asyncio.to_thread(path.stat)).st_size
    async with kycflow.Client(url, max_upload_bytes=size + 1, timeout=600, deadline=600) as client:
        # Warm up imports, the pool and the code path with a tiny upload first.
        await client.files.upload(JPEG_HEAD + b"0" * 1024, name="warm.jpg")
        reset = _reset_peak()
        before = _status_kb("VmHWM")
        started = time.perf_counter()
        if mode == "stream":
            stored = await client.files.upload(path)
        else:
            data = await asyncio.to_thread(path.read_bytes)
            stored = await client.files.upload(data, name=path.name)
            del data
        elapsed = time.perf_counter() - started
        after = _status_kb("VmHWM")
    return {
        "mode": mode,
        "growth_mb": (after - before) / 1024,
        "seconds": elapsed,
        "stored": stored,
        "peak_reset": reset,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--child", choices=["stream", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.url, Path(args.file)))))
        return 0

    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(port_queue,), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        url = f"http://127.0.0.1:{port}/api"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.jpg"
            with path.open("wb") as fh:
                fh.write(JPEG_HEAD)
                block = os.urandom(1 << 20)
                for _ in range(args.size_mb):
                    fh.write(block)
            results = []
            for mode in ("stream", "memory"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--url", url, "--file", str(path)],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        server.terminate()
        server.join(5)

    print(f"upload of {args.size_mb} MB to a local server (peak RSS growth of the client process)")
    print(f"{'mode':<22}{'peak RSS growth (MB)':>22}{'seconds':>10}")
    for r in results:
        label = "streamed from disk" if r["mode"] == "stream" else "read into memory"
        print(f"{label:<22}{r['growth_mb']:>22.1f}{r['seconds']:>10.2f}")
    stream, memory = results
    ratio = memory["growth_mb"] / max(stream["growth_mb"], 0.1)
    print(f"ratio in-memory / streamed: {ratio:.1f}x")
    ok = stream["growth_mb"] < TARGET_MB
    print(f"target: streamed growth < {TARGET_MB:.0f} MB -> {'PASS' if ok else 'FAIL'}")
    if not stream["peak_reset"]:
        print("note: /proc/self/clear_refs unavailable; growth measured from the earlier peak")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
