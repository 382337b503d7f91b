"""OpenTelemetry is optional: without the package nothing of it is imported and a run works;
with it, an SDK the app installs globally (even after importing kycflow) gets the spans."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

RUN_A_FLOW = """
import asyncio, sys
import kycflow
from kycflow.testing import Sandbox

FILES = {
    2: ("passport.jpg", b"\\xff\\xd8\\xff\\xe0" + bytes(64)),
    3: ("selfie.jpg", b"\\xff\\xd8\\xff\\xe0" + bytes(65)),
    4: ("proof_of_address.pdf", b"%PDF-1.4\\n" + bytes(66)),
}

async def flow():
    async with Sandbox() as sb:
        user = sb.create_user("optional@sandbox.test")
        async with kycflow.Client(sb.base_url) as client:
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            return await kycflow.WizardRunner(view, kycflow.MemoryProvider(FILES)).run()
"""


def _python(*parts: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def test_without_opentelemetry_nothing_is_imported_and_runs_work() -> None:
    code = (
        """
        import importlib.abc, sys

        class Hide(importlib.abc.MetaPathFinder):
            # As if opentelemetry were not installed.
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Hide())
        """,
        RUN_A_FLOW,
        """
        result = asyncio.run(flow())
        assert result.done and len(result.steps) == 3, result
        from kycflow import _telemetry
        assert not _telemetry.telemetry_enabled()
        assert not _telemetry.configure_telemetry(), "enabled without the API"
        leaked = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
        assert not leaked, leaked
        print("ok")
        """,
    )
    done = _python(*code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_import_kycflow_does_not_import_opentelemetry() -> None:
    done = _python(
        "import sys, kycflow\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')]\n"
        "print('ok')\n"
    )
    assert done.returncode == 0, done.stderr


GLOBAL_SDK = """
from opentelemetry import trace, metrics
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
"""


def test_a_global_sdk_set_after_import_gets_the_spans() -> None:
    code = (
        RUN_A_FLOW,
        """
        import time
        asyncio.run(flow())  # before the app configures its SDK: nothing to record to
        """,
        GLOBAL_SDK,
        """
        time.sleep(1.1)  # kycflow looks for a newly set global provider once a second
        tracer = trace.get_tracer("app")
        async def main():
            with tracer.start_as_current_span("app.job") as app:
                await flow()
            return app
        app = asyncio.run(main())
        spans = exporter.get_finished_spans()
        [run] = [s for s in spans if s.name == "kycflow.wizard.run"]
        assert run.parent.span_id == app.get_span_context().span_id
        assert sum(s.name.startswith("POST ") for s in spans) == 6, [s.name for s in spans]
        names = {m.name for r in reader.get_metrics_data().resource_metrics
                 for sc in r.scope_metrics for m in sc.metrics}
        assert {"http.client.request.duration", "kycflow.runs", "kycflow.step.duration"} <= names
        print("ok")
        """,
    )
    done = _python(*code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_environment_switch_turns_it_off() -> None:
    code = (
        RUN_A_FLOW,
        GLOBAL_SDK,
        """
        asyncio.run(flow())
        assert not exporter.get_finished_spans()
        from kycflow import _telemetry
        assert not _telemetry.telemetry_enabled()
        print("ok")
        """,
    )
    done = _python(*code, KYCFLOW_OTEL_DISABLED="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
