"""Files opened under a root directory, confined at open time.

``DirectoryProvider`` used to check a path with ``resolve()`` and open it again by name later,
so a file (or a parent directory) swapped for a symlink in between was uploaded from outside
the root. Here every component is opened relative to its parent's descriptor with
``O_NOFOLLOW``: a symlink met on the way is refused, or, when it was there before (a link that
stays inside the root), resolved once, checked, and the real path opened the same way.

A small file (up to ``SMALL_FILE_BYTES``, most documents) is read whole in that one open, in
the same worker-thread hop, and uploaded from memory. A larger one is not held open (thousands
of runs would exhaust descriptors): each upload stream opens it again the same confined way and
only if it is still the file first opened (same device and inode).
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat as stat_module
import threading
import time
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import BinaryIO

from ..documents import Document, content_type_from_name, file_chunks
from ..errors import DocumentError

__all__ = ["SMALL_FILE_BYTES", "OpenedFiles", "open_documents"]

SMALL_FILE_BYTES = 1024 * 1024
"""Files up to this size are read whole when opened (one thread hop, no descriptor kept)."""

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# O_NONBLOCK: opening a FIFO planted in the root must not hang the worker thread.
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS = os.O_RDONLY | _NOFOLLOW | _DIRECTORY | _CLOEXEC
_CONFINED = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd
_SYMLINK_ERRNOS = {errno.ELOOP, getattr(errno, "EMLINK", errno.ELOOP), errno.ENOTDIR}


# A cached document is trusted only once its file has not changed for this long: a write in the
# same timestamp tick as the read would leave size and times as they were.
_SETTLED_NS = 1_000_000_000
_CACHE_ENTRIES = 64
_CACHE_BYTES = 16 * 1024 * 1024


def _identity(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class OpenedFiles:
    """The small documents a provider opened, by relative path, each with the identity of the
    file it was read from (device, inode, size, mtime, ctime).

    A later call for the same path takes the cached document (its bytes shared, sniffed once)
    when ``stat`` of the path still gives that identity, with no file opened and no thread hop.
    The bytes were read from a confined open, so whatever the path has become since, nothing
    from outside the root is sent: a path now leading elsewhere has another identity and is
    opened again, confined. Bounded in entries and bytes."""

    __slots__ = ("_bytes", "_entries", "_lock")

    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], tuple[tuple[int, ...], Document]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def lookup(self, root: str, rel: PurePath) -> Document | None:
        """The cached document of ``rel`` if its file is unchanged, else None."""
        entry = self._entries.get(rel.parts)
        if entry is None:
            return None
        try:
            info = os.stat(os.path.join(root, *rel.parts))
        except (OSError, ValueError):
            return None
        return entry[1] if _identity(info) == entry[0] else None

    def keep(self, rel: PurePath, info: os.stat_result, doc: Document) -> None:
        """Remember ``doc`` (read from the file ``info`` describes) if that file is settled."""
        if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) <= _SETTLED_NS:
            return
        size = doc.size or 0
        with self._lock:
            old = self._entries.pop(rel.parts, None)
            if old is not None:
                self._bytes -= old[1].size or 0
            while self._entries and (
                len(self._entries) >= _CACHE_ENTRIES or self._bytes + size > _CACHE_BYTES
            ):
                _, (_, dropped) = self._entries.popitem()
                self._bytes -= dropped.size or 0
            self._entries[rel.parts] = (_identity(info), doc)
            self._bytes += size


class _Escaped(Exception):
    """Internal: a symlink was met while walking with O_NOFOLLOW."""


class _Reopener:
    """Opens a large file again for each upload stream, confined the same way, and only if it
    is still the very file first opened (device and inode): no descriptor outlives a stream."""

    __slots__ = ("_ident", "_name", "_parts", "_root")

    def __init__(self, root: str, parts: Sequence[str], info: os.stat_result, name: str):
        self._root = root
        self._parts = tuple(parts)
        self._ident = (info.st_dev, info.st_ino)
        self._name = name

    def __repr__(self) -> str:
        return f"<confined opener of {self._name!r}>"

    def __call__(self) -> BinaryIO:
        try:
            if _CONFINED:
                root_fd = _open_root(self._root)
                try:
                    fd = _walk(root_fd, self._parts)
                finally:
                    os.close(root_fd)
            else:
                fd = _plain_open(os.path.join(self._root, *self._parts))
        except _Escaped:
            raise DocumentError(_CHANGED, name=self._name) from None
        except OSError as exc:
            raise _not_found(self._name, exc) from None
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != self._ident:
                raise DocumentError(_CHANGED, name=self._name)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise


def _plain_open(path: str) -> int:
    return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))


_CHANGED = "document path changed while it was opened"


def _open_root(root: str) -> int:
    # The root itself is the caller's choice (it may be a symlink); what is under it is not.
    return os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)


def _open_at(part: str, flags: int, dir_fd: int) -> int:
    try:
        return os.open(part, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _SYMLINK_ERRNOS:
            raise _Escaped from None
        raise


def _walk(root_fd: int, parts: Sequence[str]) -> int:
    """The descriptor of ``parts`` under the directory ``root_fd``, no symlink followed."""
    fd = root_fd
    try:
        for part in parts[:-1]:
            child = _open_at(part, _DIR_FLAGS, fd)
            if fd != root_fd:
                os.close(fd)
            fd = child
        return _open_at(parts[-1], _FILE_FLAGS, fd)
    finally:
        if fd != root_fd:
            os.close(fd)


def _open_fd(root: str, root_fd: int | None, rel: PurePath) -> tuple[int, tuple[str, ...]]:
    """A descriptor of ``rel`` under ``root`` (confined) and the parts it was opened by."""
    name = rel.name
    if root_fd is not None:
        try:
            return _walk(root_fd, rel.parts), tuple(rel.parts)
        except _Escaped:
            pass  # a symlink on the way: it may stay inside the root
    try:
        real_root = os.path.realpath(root, strict=True)
        real = os.path.realpath(os.path.join(real_root, *rel.parts), strict=True)
    except (OSError, RuntimeError) as exc:  # missing, or a symlink loop
        raise _not_found(name, exc) from None
    if os.path.commonpath([real_root, real]) != real_root or real == real_root:
        raise DocumentError("document path escapes the provider's root", name=name)
    inside = tuple(PurePath(os.path.relpath(real, real_root)).parts)
    if root_fd is None:  # no O_NOFOLLOW/dir_fd (Windows): open, then check it is that file
        fd = _plain_open(real)
        if not os.path.samestat(os.fstat(fd), os.stat(real)):
            os.close(fd)
            raise DocumentError(_CHANGED, name=name)
        return fd, inside
    try:
        return _walk(root_fd, inside), inside
    except _Escaped:
        # A component became a symlink after it was resolved: someone is racing us.
        raise DocumentError(_CHANGED, name=name) from None


def _not_found(name: str, exc: BaseException) -> DocumentError:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return DocumentError(f"document file not found: {name}", name=name)
    if (isinstance(exc, OSError) and exc.errno == errno.ELOOP) or isinstance(exc, RuntimeError):
        return DocumentError("cannot resolve document path (symlink loop)", name=name)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return DocumentError(f"cannot open document {name}: {reason}", name=name)


def _read_exactly(fd: int, size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = os.read(fd, size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _open_one(root: str, root_fd: int | None, rel: PurePath, cache: OpenedFiles | None) -> Document:
    # The name is the one the user gave, so a symlink inside the root keeps its own name.
    name = rel.name
    if not rel.parts:  # "" or ".": the root itself
        raise DocumentError("not a regular file: the provider's root", name=name)
    try:
        fd, parts = _open_fd(root, root_fd, rel)
    except DocumentError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a name the file system cannot encode
        raise _not_found(name, exc) from None
    path = Path(root, *parts)
    try:
        info = os.fstat(fd)
        if not stat_module.S_ISREG(info.st_mode):
            raise DocumentError(f"not a regular file: {name}", name=name)
        size = info.st_size
        claimed = content_type_from_name(name)
        if size <= SMALL_FILE_BYTES:
            data = _read_exactly(fd, size)
            doc = Document._pinned_file(name, claimed, path, data=data)
            if cache is not None and len(data) == size:
                cache.keep(rel, info, doc)
            return doc
    except OSError as exc:
        raise _not_found(name, exc) from None
    finally:
        os.close(fd)
    opener = _Reopener(root, parts, info, name)
    return Document._pinned_file(
        name,
        claimed,
        path,
        factory=lambda chunk_size: file_chunks(path, chunk_size, opener),
        size=size,
    )


def _open_all(root: str, items: Sequence[PurePath], cache: OpenedFiles | None) -> list[Document]:
    # One descriptor of the root for every file of the call: a few system calls per file.
    root_fd: int | None = None
    if _CONFINED:
        try:
            root_fd = _open_root(root)
        except (OSError, ValueError) as exc:
            raise DocumentError("cannot open the provider's root directory") from exc
    try:
        return [_open_one(root, root_fd, rel, cache) for rel in items]
    finally:
        if root_fd is not None:
            os.close(root_fd)


async def open_documents(
    root: Path, items: Sequence[PurePath], cache: OpenedFiles | None = None
) -> list[Document]:
    """The documents at the relative paths ``items`` under ``root``, each opened once and
    confined at open time, in one worker-thread hop; or, when ``cache`` holds every one of
    them unchanged, those (no hop)."""
    base = os.fspath(root)
    if cache is not None:
        found = [doc for rel in items if (doc := cache.lookup(base, rel)) is not None]
        if len(found) == len(items):
            return found
    loop = asyncio.get_running_loop()
    # ``run_in_executor`` rather than ``to_thread``: no context copied, nothing to log there.
    return await loop.run_in_executor(None, _open_all, base, items, cache)
