"""Documents to upload: a name, a content type, a size and a re-openable byte stream.

Everything here is local: no request is made. ``validate`` raises ``DocumentError`` for a file
that is missing, empty, too large, of a disallowed type or whose bytes contradict its extension,
so that a bad file is refused before the first request of the step that needs it.

Modules: ``document`` (``Document``), ``sniffing`` (content types), ``streams`` (byte streams).
"""

from __future__ import annotations

from .document import Document
from .sniffing import SNIFF_BYTES, content_type_from_name, sniff_content_type
from .streams import file_chunks

__all__ = ["SNIFF_BYTES", "Document", "content_type_from_name", "file_chunks", "sniff_content_type"]
