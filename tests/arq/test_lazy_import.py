"""``import kycflow`` (and the integration module itself) never imports arq or redis."""

from __future__ import annotations

import subprocess
import sys


def test_arq_and_redis_are_imported_only_when_used() -> None:
    code = (
        "import sys, kycflow, kycflow.integrations.arq as m\n"
        "assert 'arq' not in sys.modules and 'redis' not in sys.modules, 'imported early'\n"
        "m.make_worker_settings(base_url='http://127.0.0.1:1/api', redis='redis://127.0.0.1:1')\n"
        "assert 'arq' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
