"""Defaults in one place. Every tunable of the client starts here."""

from __future__ import annotations

from ._version import __version__

USER_AGENT = f"kycflow/{__version__}"

# Seconds. A bare aiohttp ClientTimeout() has no limit at all, so every field is explicit.
# A JSON call's total bounds its reads too: a read bound of no less is left out, which spares
# aiohttp a timer rescheduled on every read of every reply.
DEFAULT_TOTAL_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
# Uploads stream large bodies: no total cap, but a stalled socket still fails.
DEFAULT_UPLOAD_TOTAL_TIMEOUT: float | None = None

# Attempts = 1 + retries.
DEFAULT_MAX_RETRIES = 2
DEFAULT_DEADLINE = 120.0
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# A POST may be retried after these even though the server saw it: both promise no effect.
POST_SAFE_RETRY_STATUSES = frozenset({429, 503})

DEFAULT_CONNECTION_LIMIT = 100
DEFAULT_CONNECTION_LIMIT_PER_HOST = 0

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
UPLOAD_CHUNK_BYTES = 256 * 1024
ALLOWED_CONTENT_TYPES = frozenset(
    {"image/jpeg", "image/png", "application/pdf", "image/heic", "image/heif"}
)

# Refresh this many seconds before expiresAt.
TOKEN_REFRESH_MARGIN = 30.0

UPLOAD_PATH = "/v2/my/files"
UPLOAD_FIELD = "file"

ERROR_EXCERPT_CHARS = 200

# WizardRunner. A step is one submit; the deadline bounds a whole run (None: no limit).
DEFAULT_MAX_STEPS = 50
DEFAULT_RUN_DEADLINE: float | None = 600.0
DEFAULT_UPLOAD_CONCURRENCY = 4
DEFAULT_STALL_LIMIT = 3
DEFAULT_MAX_SUBMIT_ATTEMPTS = 3
# Seconds the runner waits after an ambiguous submit before re-reading the wizard (doubled per
# attempt up to 30 s). 2 s: the issue-10 soak measured commits landing 1.5 s after a gateway's
# 5xx; a 202 "accepted, processing will start later" is not instant either.
DEFAULT_SETTLE_DELAY = 2.0

# The version of every JSON shape kycflow emits (``to_dict()``, ``--json``, batch and arq
# results). Adding a field keeps it; renaming, removing or retyping one bumps it.
JSON_SCHEMA_VERSION = 1

# Waiting for a level (wait_for_level, LevelWatcher). Seconds. Polls start often and back off;
# jitter only shortens a delay, so a grant is seen within one interval.
LEVEL_POLL_INITIAL = 1.0
LEVEL_POLL_FACTOR = 1.5
LEVEL_POLL_MAX = 60.0
LEVEL_POLL_JITTER = 0.1
LEVEL_HISTORY_PAGE = 20
LEVEL_HISTORY_SCAN_PAGES = 20
WATCH_POLL_INITIAL = 5.0
WATCH_POLL_FACTOR = 1.5
WATCH_POLL_MAX = 3600.0
WATCH_MAX_RPS = 50.0
WATCH_CONCURRENCY = 50
WATCH_QUEUE_SIZE = 1000
