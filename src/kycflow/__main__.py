"""``python -m kycflow``: the ``kycflow`` command."""

from .cli import main

raise SystemExit(main())
