"""Reading catalog files and splitting them into YAML documents.

Backstage parses a file with ``yaml`` v2 ``parseAllDocuments`` (YAML 1.2, no merge keys). We parse
with ``yaml_rs`` (YAML 1.2 core schema, Rust, ~10x faster than PyYAML's C loader), but split the file
into documents ourselves first, on the ``---`` / ``...`` markers at column 0. YAML forbids those
markers inside content, so the split is exact, and it buys two things Backstage does not have: one
broken document never hides its siblings, and every document knows the line it starts on.

The split reproduces how ``yaml`` v2 numbers documents (the oracle's ``index``): comments before the
first ``---`` belong to the first document, a file of only comments has no documents, and a ``---``
with nothing after it is an empty document (``None``, which Backstage skips).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml_rs

MAX_FILE_BYTES = 5 * 1024 * 1024  # Backstage has no cap; a 5 MB catalog file is a mistake, not data

# A document marker: ``---`` or ``...`` at column 0, followed by whitespace or the end of the line.
_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.MULTILINE)
# A line that is content: not blank, not a comment, not a directive (``%YAML 1.2``).
_CONTENT = re.compile(r"^[ \t]*[^\s#%]", re.MULTILINE)
_ERROR_AT = re.compile(r"line (\d+), column (\d+)")
_DUPLICATE_KEY = re.compile(r"duplicate mapping key: '(.*)'", re.DOTALL)
_loads = yaml_rs.loads


class CatalogFileError(Exception):
    """A file that cannot be used at all (unreadable, binary, too large); the message says why."""


@dataclass(frozen=True, slots=True)  # not a NamedTuple: its ``index`` would shadow tuple.index
class RawDocument:
    """One YAML document of a file, parsed, with where it starts.

    ``data`` is the parsed value (``None`` for an empty document); ``error`` is set instead when the
    document is not valid YAML. ``has_dollar`` tells later stages whether placeholders may occur,
    so they can skip walking the tree for the 99% of documents that have none.
    """

    index: int
    line: int
    data: Any
    error: str | None = None
    has_dollar: bool = False  # "$" occurs in the document's text
    text: str = ""  # the document's YAML (what the catalog keeps instead of the parsed data)


def read_catalog_file(path: Path | str) -> str:
    """The text of a catalog file, or ``CatalogFileError`` saying clearly why it cannot be read.

    Only regular files are read: a FIFO would block the reader forever and a device could stream
    without end, so the one ``stat`` (which also gives the size) refuses them before ``open``.
    ``O_NONBLOCK`` is the second guard, for a file swapped for a FIFO between the two calls.
    """
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except OSError as error:
        raise CatalogFileError(f"cannot read file: {_os_reason(error)}") from error
    if not stat.S_ISREG(info.st_mode):
        raise CatalogFileError(f"not a regular file ({_file_type(info.st_mode)})")
    if info.st_size > MAX_FILE_BYTES:
        raise CatalogFileError(_too_large(info.st_size))
    try:
        fd = os.open(path, _OPEN_FLAGS)
        try:
            # One byte more than the stat said: a file that grew since then is read to its end.
            data = os.read(fd, info.st_size + 1)
            if len(data) > info.st_size:
                data += _read_rest(fd, len(data))
        finally:
            os.close(fd)
    except BlockingIOError as error:
        raise CatalogFileError("not a regular file (it would block)") from error
    except OSError as error:
        raise CatalogFileError(f"cannot read file: {_os_reason(error)}") from error
    if len(data) > MAX_FILE_BYTES:
        raise CatalogFileError(_too_large(len(data)))
    if b"\x00" in data:
        raise CatalogFileError("binary file (contains NUL bytes), not YAML text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CatalogFileError(f"not UTF-8 text (invalid byte at offset {error.start})") from error
    return text[1:] if text.startswith("\ufeff") else text


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_rest(fd: int, total: int) -> bytes:
    """What is left of a file that grew since its ``stat`` (bounded by the size limit)."""
    chunks: list[bytes] = []
    while total <= MAX_FILE_BYTES:
        chunk = os.read(fd, MAX_FILE_BYTES + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _too_large(size: int) -> str:
    limit_mb = MAX_FILE_BYTES // 1024 // 1024
    return f"file is {size / 1024 / 1024:.1f} MB, larger than the {limit_mb} MB limit for catalog files"


def _os_reason(error: OSError) -> str:
    """``symlink loop`` rather than errno's wording for ELOOP, which people rarely recognise."""
    if error.errno == errno.ELOOP:
        return "symlink loop"
    return error.strerror or str(error)


def _file_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def split_documents(text: str) -> list[tuple[int, int, str]]:
    """Cut ``text`` into ``(line, first_line, chunk)`` per document.

    ``line`` is the 1-based line a person would point at (the ``---`` of an explicit document, else
    its first content line); ``first_line`` is the line ``chunk`` starts on, to offset parse errors.
    """
    documents: list[tuple[int, int, str]] = []
    pos = 0  # start of the pending document's text (its leading comments included)
    region_line = 1  # line number of `pos`
    explicit_line: int | None = None  # line of the `---` that opened the pending document
    cursor, cursor_line = 0, 1  # markers come in order: count newlines incrementally

    def emit(end: int) -> None:
        chunk = text[pos:end]
        if explicit_line is not None:
            documents.append((explicit_line, region_line, chunk))
            return
        content = _CONTENT.search(chunk)
        if content is not None:
            documents.append((region_line + chunk.count("\n", 0, content.start()), region_line, chunk))

    for marker in _MARKER.finditer(text):
        start = marker.start()
        cursor_line += text.count("\n", cursor, start)
        cursor = start
        pending = explicit_line is not None or _CONTENT.search(text, pos, start) is not None
        if text.startswith("---", start):
            if pending:
                emit(start)
                pos, region_line = start, cursor_line
            # else: only comments or directives so far, and they belong to this document
            explicit_line = cursor_line
        else:  # `...` ends the pending document; the marker line belongs to no document
            if pending:
                emit(start)
            explicit_line = None
            eol = text.find("\n", start)
            pos = len(text) if eol == -1 else eol + 1
            region_line = cursor_line + 1
    emit(len(text))
    return documents


def parse_documents(text: str) -> list[RawDocument]:
    """Every YAML document of ``text``, each parsed on its own (errors never escape)."""
    chunks = split_documents(text)
    if len(chunks) > 1:
        # Fast path: one parser call for the whole file. It is only trusted when it yields exactly
        # the documents our split found (it splits on the same markers); any error falls back to
        # parsing document by document, so one broken document still spares its siblings.
        try:
            whole = _loads(text, parse_datetime=False)
        except Exception:  # noqa: BLE001 - any parser failure just means "take the slow path"
            whole = None
        if type(whole) is list and len(whole) == len(chunks):
            return [
                RawDocument(index, line, data, None, "$" in chunk, chunk)
                for index, ((line, _, chunk), data) in enumerate(zip(chunks, whole, strict=True))
            ]
    result: list[RawDocument] = []
    for index, (line, first_line, chunk) in enumerate(chunks):
        try:
            data = _loads(chunk, parse_datetime=False)
        except yaml_rs.YAMLDecodeError as error:
            result.append(RawDocument(index, line, None, _syntax_error(str(error), chunk, first_line)))
            continue
        except (ValueError, TypeError, OverflowError, RecursionError) as error:
            result.append(RawDocument(index, line, None, f"YAML error: {error}"))
            continue
        result.append(RawDocument(index, line, data, None, "$" in chunk, chunk))
    return result


def _syntax_error(message: str, chunk: str, first_line: int) -> str:
    """``YAML syntax error at line L, column C: reason`` with L counted in the whole file."""
    at = _ERROR_AT.search(message)
    reason = message.strip().splitlines()[-1].strip() if message.strip() else "invalid YAML"
    if at is not None:
        line = int(at.group(1)) + first_line - 1
        return f"YAML syntax error at line {line}, column {at.group(2)}: {reason}"
    duplicate = _DUPLICATE_KEY.search(message)
    if duplicate is not None:
        key = duplicate.group(1)
        second = _second_occurrence_line(chunk, key)
        where = f" at line {second + first_line - 1}" if second else ""
        return f"YAML error{where}: map keys must be unique; {key!r} appears twice"
    return f"YAML error: {reason}"


def _second_occurrence_line(chunk: str, key: str) -> int | None:
    """Best effort: the 1-based line (in ``chunk``) where ``key:`` appears the second time."""
    pattern = re.compile(rf"^[ \t-]*[\"']?{re.escape(key)}[\"']?[ \t]*:", re.MULTILINE)
    matches = list(pattern.finditer(chunk))
    if len(matches) >= 2:
        return chunk.count("\n", 0, matches[1].start()) + 1
    return None
