"""``python -m kycflow.testing``: serve the sandbox."""

import sys

from .serve import main

sys.exit(main())
