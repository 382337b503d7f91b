"""``python -m kycflow.cli``: the ``kycflow`` command."""

import sys

from . import main

sys.exit(main())
